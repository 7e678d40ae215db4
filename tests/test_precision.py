"""How --mixed-precision auto resolves, and a run in each precision a CPU can train in."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnist_gan import configs
from mnist_gan.runtime import config, flags, precision
from mnist_gan.runtime.errors import ConfigError

X86_BF16 = "processor : 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
X86_PLAIN = "processor : 0\nflags\t\t: fpu sse2 avx2 avx512f\n"
ARM_BF16 = "processor : 0\nFeatures\t: fp asimd sve bf16 i8mm\n"


def test_flags_read_from_x86_and_arm_cpuinfo() -> None:
    assert precision.cpu_bf16_flags(X86_BF16) == ["avx512_bf16", "amx_bf16"]
    assert precision.cpu_bf16_flags(ARM_BF16) == ["bf16"]
    assert precision.cpu_bf16_flags(X86_PLAIN) == []
    assert precision.cpu_bf16_flags("") == []
    # A flag's name inside another word or outside the flags line does not count.
    assert precision.cpu_bf16_flags("model name : bf16 chip\nflags : avx512_bf16x\n") == []


@pytest.mark.parametrize(
    ("gpus", "cpuinfo", "expected"),
    [
        (0, X86_BF16, "bfloat16"),
        (0, ARM_BF16, "bfloat16"),
        (0, X86_PLAIN, "off"),  # emulated bfloat16 is slower than float32
        (1, X86_BF16, "off"),  # float16 on GPUs is only ever asked for
    ],
)
def test_auto_picks_by_hardware(gpus: int, cpuinfo: str, expected: str) -> None:
    mode, why = precision.resolve("auto", gpus=gpus, cpuinfo=cpuinfo)
    assert mode == expected and why.startswith("auto: ")


@pytest.mark.parametrize("mode", ["off", "float16", "bfloat16"])
def test_an_asked_for_precision_is_kept(mode: str) -> None:
    assert precision.resolve(mode, gpus=0, cpuinfo=X86_PLAIN) == (mode, "as asked")
    assert precision.resolve(mode, gpus=2, cpuinfo=X86_BF16) == (mode, "as asked")


def test_unknown_precision_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose from auto, off, float16, bfloat16"):
        precision.resolve("fp8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("mixed_precision: fp8\n")
    with pytest.raises(ConfigError, match=r"mixed_precision.*must be one of"):
        flags.parse_args(configs.GanConfig, ["--config", str(bad)], "")
    assert config.defaults(configs.GanConfig).mixed_precision == "auto"
