"""The networks, their spectral normalisation, the WGAN-GP losses and the critic's augmentation."""
