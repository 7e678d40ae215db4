"""Config merge rules: YAML defaults < --config file < flags; bad keys and values refused."""

from __future__ import annotations

import shlex
import signal
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from mnist_gan import configs
from mnist_gan.configs import ClassifierConfig, GanConfig
from mnist_gan.runtime import config, flags, record
from mnist_gan.runtime.errors import CheckpointError, ConfigError

ALL: list[type[config.Config]] = [ClassifierConfig, GanConfig, configs.GenerateConfig, configs.EvaluateConfig]


@pytest.mark.parametrize("cls", ALL)
def test_defaults_file_is_complete(cls: type[config.Config]) -> None:
    cfg = config.defaults(cls)
    assert config.from_dict(cls, cfg.to_dict(), "x") == cfg


def test_flags_override_file_overrides_defaults(tmp_path: Path) -> None:
    user = tmp_path / "mine.yaml"
    user.write_text("epochs: 3\nbatch_size: 32\n")
    cfg, _ = flags.parse_args(ClassifierConfig, ["--config", str(user), "--batch-size", "16"], "d")
    assert cfg.epochs == 3  # from the file
    assert cfg.batch_size == 16  # the flag wins over the file
    assert cfg.seed == config.defaults(ClassifierConfig).seed  # untouched default


def test_bool_flags_both_ways() -> None:
    assert flags.parse_args(ClassifierConfig, ["--no-augment"], "d")[0].augment is False
    assert flags.parse_args(ClassifierConfig, ["--augment"], "d")[0].augment is True


def test_unknown_key_named_with_suggestion(tmp_path: Path) -> None:
    user = tmp_path / "typo.yaml"
    user.write_text("batch_sise: 32\n")
    with pytest.raises(
        ConfigError, match=r"typo.yaml: unknown config key 'batch_sise'; did you mean 'batch_size'"
    ):
        config.load(ClassifierConfig, user)


def test_unknown_key_exits_cleanly_from_the_parser(tmp_path: Path) -> None:
    user = tmp_path / "typo.yaml"
    user.write_text("nonsense: 1\n")
    with pytest.raises(ConfigError, match="unknown config key 'nonsense'"):
        flags.parse_args(ClassifierConfig, ["--config", str(user)], "d")


def test_a_key_set_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    # safe_load alone keeps the last value: the run would not be the one its file reads as.
    user = tmp_path / "twice.yaml"
    user.write_text("epochs: 5\nseed: 1\n# later, forgotten\nepochs: 50\n")
    with pytest.raises(ConfigError, match=r"twice.yaml: key 'epochs' is set twice \(lines 1 and 4\)"):
        flags.parse_args(ClassifierConfig, ["--config", str(user)], "d")
    fine = tmp_path / "fine.yaml"
    fine.write_text("epochs: 5\nseed: 1\n")
    assert config.load(ClassifierConfig, fine).epochs == 5
    merged = tmp_path / "merged.yaml"  # one merge key may be overridden; two in a mapping clash
    merged.write_text("<<: {width: 8}\n<<: {width: 9}\n")
    with pytest.raises(ConfigError, match=r"key '<<' is set twice \(lines 1 and 2\)"):
        config.load(ClassifierConfig, merged)


def test_nested_aliases_are_read_once_each(tmp_path: Path) -> None:
    # Ten levels of ten aliases each: walked as a tree, 10^10 nodes; as a graph, eleven.
    levels = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(levels) + "\n")

    def too_slow(signum: int, frame: object) -> None:
        raise TimeoutError("the YAML walk expanded the aliases")

    previous = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(30)  # a regression fails the test, never hangs it
    try:
        with pytest.raises(ConfigError, match="unknown config key 'l0'"):
            config.load(ClassifierConfig, bomb)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("epochs: five\n", "'epochs' must be int, got 'five'"),
        ("epochs: true\n", "'epochs' must be int, got True"),
        ("learning_rate: fast\n", "'learning_rate' must be float"),
        ("strategy: nccl\n", "'strategy' must be one of"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_wrong_values_refused(tmp_path: Path, text: str, message: str) -> None:
    user = tmp_path / "bad.yaml"
    user.write_text(text)
    with pytest.raises(ConfigError, match=message):
        config.load(ClassifierConfig, user)


def test_int_accepted_for_float(tmp_path: Path) -> None:
    user = tmp_path / "ok.yaml"
    user.write_text("learning_rate: 1\n")
    assert config.load(ClassifierConfig, user).learning_rate == 1.0


@pytest.mark.parametrize(
    ("text", "value"), [("1e-3", 1e-3), ("2E+2", 200.0), ("1.5e4", 15000.0), (".5e4", 5000.0)]
)
def test_exponent_without_a_dot_is_a_float(tmp_path: Path, text: str, value: float) -> None:
    # PyYAML (YAML 1.1) reads 1e-3 (no dot) and 1.5e4 (no sign) as strings; a float key takes the number.
    user = tmp_path / "ok.yaml"
    user.write_text(f"learning_rate: {text}\n")
    assert yaml.safe_load(user.read_text())["learning_rate"] == text
    assert config.load(ClassifierConfig, user).learning_rate == value


def test_python_object_tag_is_refused(tmp_path: Path) -> None:
    evil = tmp_path / "evil.yaml"
    evil.write_text("epochs: !!python/object/apply:os.system ['echo owned']\n")
    with pytest.raises(ConfigError, match=r"evil\.yaml: not valid YAML"):
        config.load(ClassifierConfig, evil)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read config"):
        config.load(ClassifierConfig, tmp_path / "nope.yaml")


def test_saved_yaml_round_trips(tmp_path: Path) -> None:
    cfg = config.defaults(GanConfig).replace(steps=7, mixed_precision="bfloat16")
    config.save(cfg, tmp_path / "config-gan.yaml")
    assert config.load(GanConfig, tmp_path / "config-gan.yaml") == cfg


@pytest.mark.parametrize("cls", [ClassifierConfig, GanConfig])
def test_help_lists_every_key_with_default(cls: type[config.Config]) -> None:
    parser = flags.build_parser(cls, config.defaults(cls), "d")
    text = " ".join(parser.format_help().split())
    for key, value in config.defaults(cls).to_dict().items():
        assert "--" + key.replace("_", "-") in text
        if value != "":  # an empty default is explained in the help, not shown as "(default: )"
            assert f"(default: {value})" in text
    assert "(default: )" not in text


def test_saved_config_from_an_older_version_gets_new_keys_from_defaults() -> None:
    saved = config.defaults(GanConfig).to_dict()
    del saved["collective_timeout"]
    cfg = config.from_saved(GanConfig, saved, "old.yaml")
    assert cfg.collective_timeout == config.defaults(GanConfig).collective_timeout
    with pytest.raises(ConfigError, match=r"old\.yaml: unknown config key 'from_the_future'"):
        config.from_saved(GanConfig, {**saved, "from_the_future": 1}, "old.yaml")


def test_a_run_saved_before_a_key_keeps_what_it_trained_with() -> None:
    # Not today's default: the network those runs trained, or their weights would not load.
    saved = config.defaults(GanConfig).to_dict()
    for key in GanConfig.BEFORE:
        del saved[key]
    cfg = config.from_saved(GanConfig, saved, "old.yaml")
    assert {k: getattr(cfg, k) for k in GanConfig.BEFORE} == GanConfig.BEFORE
    # Resuming it with another architecture is refused by name, as for a key it did save.
    now = config.defaults(GanConfig).replace(gen_blocks=1, gen_conditioning="batchnorm")
    never, _ = record.compare(now, saved, {}, "", list(record.DIGITS))
    assert never["gen_blocks"] == (0, 1) and never["gen_conditioning"] == ("input", "batchnorm")
    same = config.defaults(GanConfig).replace(**GanConfig.BEFORE)
    assert record.compare(same, saved, {}, "", list(record.DIGITS)) == ({}, {})
    # A training setting it predates too: resumed with today's default, it is a difference.
    _, changed = record.compare(
        same.replace(ema_decay=0.999),
        saved,
        {},
        "",
        list(record.DIGITS),
    )
    assert changed == {"ema_decay": (0.0, 0.999)}


@pytest.mark.parametrize(
    ("cls", "changes", "message"),
    [
        (GanConfig, {"gen_lr": float("nan")}, r"gen_lr must be a finite number, got nan"),
        (GanConfig, {"critic_lr": float("inf")}, r"critic_lr must be a finite number, got inf"),
        (GanConfig, {"gen_lr": -0.001}, r"gen_lr must be > 0, got -0.001"),
        (GanConfig, {"gp_weight": -1.0}, r"gp_weight must be >= 0, got -1.0"),
        (GanConfig, {"beta_2": 1.0}, r"beta_2 must be < 1, got 1.0"),
        (GanConfig, {"steps": 10**30}, r"steps is too large \(1e\+30\); it must fit in 64 bits"),
        (GanConfig, {"epochs": 1e30}, r"epochs must be <= 1000000, got 1e\+30"),
        (GanConfig, {"keep_checkpoints": 0}, r"keep_checkpoints must be >= 1, got 0"),
        (ClassifierConfig, {"dropout": 1.0}, r"dropout must be < 1, got 1.0"),
        (GanConfig, {"test_fraction": 1.0}, r"test_fraction must be < 1, got 1.0"),
        (GanConfig, {"test_fraction": 0.0}, r"test_fraction must be > 0, got 0.0"),
        (ClassifierConfig, {"seed": -1}, r"seed must be >= 0, got -1"),
        (configs.EvaluateConfig, {"eval_samples": -5}, r"eval_samples must be >= 0, got -5"),
        (
            configs.EvaluateConfig,
            {"eval_samples": 19},
            r"eval_samples must be 0 \(the test split\) or >= 20, got 19",
        ),
        (GanConfig, {"eval_samples": 19}, r"eval_samples must be >= 20, got 19"),
        (configs.GenerateConfig, {"step": "-2"}, r"step must be newest, best or a step number, got .-2."),
    ],
)
def test_values_out_of_range_refused(cls: type[config.Config], changes: dict, message: str) -> None:
    data = {**config.defaults(cls).to_dict(), **changes}
    with pytest.raises(ConfigError, match=rf"^src: {message}"):
        config.from_dict(cls, data, "src")


def test_yaml_values_checked_with_the_file_named(tmp_path: Path) -> None:
    user = tmp_path / "bad.yaml"
    user.write_text("gen_lr: .nan\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: gen_lr must be a finite number, got nan"):
        config.load(GanConfig, user)


def test_a_number_with_a_leading_zero_is_refused_not_read_as_octal(tmp_path: Path) -> None:
    # YAML 1.1 reads 010 as 8: 'steps: 010' trained to step 8, and 'step: 010' loaded ckpt-8
    # where --step 010 loads ckpt-10.
    from mnist_gan.configs import GenerateConfig

    for cls, text in ((GanConfig, "seed: 1\nsteps: 010\n"), (GenerateConfig, "step: 010\n")):
        path = tmp_path / "octal.yaml"
        path.write_text(text)
        key, line = text.splitlines()[-1].split(":")[0], len(text.splitlines())
        said = f"octal.yaml: line {line}: {key}: 010 has a leading zero, which YAML reads as an octal number"
        with pytest.raises(ConfigError, match=said):
            config.load(cls, path)
    (tmp_path / "fine.yaml").write_text('step: "010"\nseed: 0\n')  # quoted: the text; 0 alone: zero
    assert config.load(GenerateConfig, tmp_path / "fine.yaml").step == "010"


def test_invalid_utf8_and_yaml_errors_are_one_line(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"# caf\xe9\nseed: 1\n")
    with pytest.raises(ConfigError, match=r"latin.yaml: not UTF-8 text \(byte 0xe9 at offset 5\)"):
        config.load(GanConfig, latin)
    broken = tmp_path / "broken.yaml"
    broken.write_text("seed: 1\n  steps: [2\n")
    with pytest.raises(ConfigError) as info:
        config.load(GanConfig, broken)
    assert "\n" not in str(info.value) and "at line 2, column" in str(info.value)


def test_saved_run_config_usable_as_config_file(tmp_path: Path) -> None:
    from mnist_gan.runtime import record

    cfg = config.defaults(GanConfig).replace(seed=5)
    record.write(
        cfg, tmp_path / "config-gan.yaml", step=3, fingerprint="sha256:x", classes=["a", "b"], history=[]
    )
    assert config.load(GanConfig, tmp_path / "config-gan.yaml") == cfg


def test_evaluate_old_flag_names_still_accepted() -> None:
    cfg, given = flags.parse_args(configs.EvaluateConfig, ["--num-samples", "300", "--skip-cas"], "")
    assert cfg.eval_samples == 300 and cfg.cas is False and given == {"eval_samples", "cas"}
    assert flags.parse_args(configs.EvaluateConfig, ["--no-skip-cas"], "")[0].cas is True
    assert flags.parse_args(configs.EvaluateConfig, ["--no-cas"], "")[0].cas is False
    kind = configs.EvaluateConfig
    help_text = flags.build_parser(kind, config.defaults(kind), "").format_help()
    assert "--num-samples" not in help_text and "--skip-cas" not in help_text  # hidden
    assert "--eval-samples" in help_text and "--no-cas" in help_text
    # Both names at once: the last one won, unsaid (a --config file with both is refused).
    for argv, message in (
        (["--num-samples", "100", "--eval-samples=200"], "give --eval-samples or its old name --num-samples"),
        (["--no-cas", "--no-skip-cas"], "give --no-cas or its old name --no-skip-cas"),
    ):
        with pytest.raises(ConfigError, match=f"^{message}, not both$"):
            flags.parse_args(configs.EvaluateConfig, argv, "")
    with pytest.raises(ConfigError, match=r"^give --classes or its old name --digits, not both$"):
        flags.parse_args(configs.GenerateConfig, ["--classes", "4", "--digits", "3"], "")


def test_the_keys_given_are_those_the_command_line_or_its_file_set(tmp_path: Path) -> None:
    # A value equal to its default is still given: a resume must not swap it for the run's.
    default = config.defaults(configs.GanConfig)
    user = tmp_path / "my.yaml"
    user.write_text("batch_size: 32\nrun: {step: 5}\n")  # a saved config's record is no setting
    argv = ["--config", str(user), "--classifier-dir", default.classifier_dir, "--no-eval"]
    cfg, given = flags.parse_args(configs.GanConfig, argv, "")
    assert given == {"batch_size", "classifier_dir", "eval"}
    assert cfg.classifier_dir == default.classifier_dir and cfg.batch_size == 32 and cfg.eval is False
    assert flags.parse_args(configs.GanConfig, [], "")[1] == frozenset()


def test_installed_defaults_live_in_the_package() -> None:
    assert Path(configs.__file__).resolve().parent == config.CONFIG_DIR
    for cls in (configs.ClassifierConfig, configs.GanConfig, configs.GenerateConfig, configs.EvaluateConfig):
        assert (config.CONFIG_DIR / cls.DEFAULTS_FILE).is_file(), cls.DEFAULTS_FILE


def test_renamed_keys_still_load(tmp_path: Path) -> None:
    class Renamed(configs.GenerateConfig):
        RENAMED_KEYS: ClassVar[dict[str, str]] = {"pictures": "count"}

    (tmp_path / "old.yaml").write_text("pictures: 3\n")
    assert config.load(Renamed, tmp_path / "old.yaml").count == 3
    (tmp_path / "both.yaml").write_text("pictures: 3\ncount: 4\n")
    with pytest.raises(ConfigError, match="give 'count' or its old name 'pictures', not both"):
        config.load(Renamed, tmp_path / "both.yaml")
    (tmp_path / "new.yaml").write_text("pictures: 3\n")
    with pytest.raises(ConfigError, match="unknown config key 'pictures'"):
        config.load(configs.GenerateConfig, tmp_path / "new.yaml")  # only where declared


def _resumes_as_it_is() -> record.FolderPlan:
    """The plan for a folder whose run continues unchanged: its length, from the record's steps."""
    return record.FolderPlan(length=config.defaults(GanConfig).steps)


@pytest.mark.parametrize("predates_networks", [True, False], ids=["networks", "settings"])
def test_refusal_names_the_flags_that_continue_an_older_run_as_it_was(
    tmp_path: Path, predates_networks: bool
) -> None:
    # A run saved before today's defaults: its schedule had other values then, and the
    # keys added since (networks, average, augmentation, decay floor) are missing from its record.
    now = config.defaults(GanConfig)
    old = now.replace(crit_steps=2, beta_1=0.5, lr_decay="none")
    record.write(old, tmp_path / "config-gan.yaml", step=3, fingerprint="sha256:x", classes=[], history=[])
    missing = GanConfig.BEFORE if predates_networks else ["lr_decay_to"]
    saved = (tmp_path / "config-gan.yaml").read_text()
    saved = "\n".join(line for line in saved.splitlines() if line.split(":")[0] not in missing)
    (tmp_path / "config-gan.yaml").write_text(saved + "\n")
    names = [str(d) for d in range(10)]

    with pytest.raises(CheckpointError) as info:
        record.plan_folder(now, tmp_path, "sha256:x", names, ["ckpt-3"])
    message = str(info.value)
    assert "crit_steps 2 -> 1" in message and "lr_decay_to 0.0 -> 0.25" in message
    hint = message.split("or continue it as it was: ")[1]
    assert "--crit-steps 2" in hint and "--beta-1 0.5" in hint and "--lr-decay-to 0.0" in hint
    if predates_networks:
        assert "--ema-decay 0.0" in hint and "--critic-blocks 0" in hint
        assert "--critic-augment" not in hint  # no augmentation then, none by default again now

    # Those flags, given as a user would, make a config that continues the run unchanged.
    again, _ = flags.parse_args(GanConfig, shlex.split(hint), "")
    assert (
        record.plan_folder(again, tmp_path, "sha256:x", names, ["ckpt-3"]) == _resumes_as_it_is()
    )  # unchanged


@pytest.mark.parametrize(
    ("changes", "differences", "flags_of_then"),
    [
        # Saved by the defaults before 2026-12-07: the critic without a class's own bias.
        ({"critic_class_bias": False}, ["critic_class_bias False -> True"], "--no-critic-class-bias"),
        # ... and before 2026-12-06 (night): the weight average's decay capped at 0.999 too.
        (
            {"critic_class_bias": False, "ema_decay": 0.999},
            ["critic_class_bias False -> True", "ema_decay 0.999 -> 0.9965"],
            "--no-critic-class-bias --ema-decay 0.999",
        ),
        # ... and before 2026-12-06 (evening): the first layer shared by every class, the
        # mode-seeking term at 0.005.
        (
            {
                "gen_noise_weights": "shared",
                "gen_mode_seeking": 0.005,
                "ema_decay": 0.999,
                "critic_class_bias": False,
            },
            ["gen_noise_weights 'shared' -> 'per_class'", "gen_mode_seeking 0.005 -> 0.0"],
            "--gen-noise-weights shared --no-critic-class-bias --gen-mode-seeking 0.005 --ema-decay 0.999",
        ),
        # ... and before 2026-12-05 (night): both networks 64 wide, no mode-seeking term.
        (
            {
                "gen_noise_weights": "shared",
                "gen_width": 64,
                "critic_width": 64,
                "ema_decay": 0.999,
                "critic_class_bias": False,
            },
            ["gen_width 64 -> 48, critic_width 64 -> 48", "gen_noise_weights 'shared' -> 'per_class'"],
            "--gen-width 64 --critic-width 64 --gen-noise-weights shared --no-critic-class-bias "
            "--ema-decay 0.999",
        ),
    ],
)
def test_a_run_of_earlier_defaults_is_refused_with_the_flags_that_continue_it(
    tmp_path: Path, changes: dict[str, object], differences: list[str], flags_of_then: str
) -> None:
    # Today's defaults must not continue a run of earlier ones as if it were theirs.
    now = config.defaults(GanConfig)
    old = now.replace(**changes)
    record.write(old, tmp_path / "config-gan.yaml", step=3000, fingerprint="sha256:x", classes=[], history=[])
    names, held = [str(d) for d in range(10)], ["ckpt-3000"]
    with pytest.raises(CheckpointError) as info:
        record.plan_folder(now, tmp_path, "sha256:x", names, held)
    message = str(info.value)
    assert all(d in message for d in differences), message
    hint = message.split("or continue it as it was: ")[1]
    assert hint == flags_of_then
    again, _ = flags.parse_args(GanConfig, shlex.split(hint), "")
    assert record.plan_folder(again, tmp_path, "sha256:x", names, held) == _resumes_as_it_is()


def test_a_setting_without_effect_is_not_a_difference(tmp_path: Path) -> None:
    # A constant-rate run saved before lr_decay_to existed: the decay's floor never mattered to it.
    now = config.defaults(GanConfig).replace(lr_decay="none")
    record.write(now, tmp_path / "config-gan.yaml", step=3, fingerprint="sha256:x", classes=[], history=[])
    saved = (tmp_path / "config-gan.yaml").read_text().splitlines()
    (tmp_path / "config-gan.yaml").write_text("\n".join(s for s in saved if not s.startswith("lr_decay_to")))
    names = [str(d) for d in range(10)]
    assert record.plan_folder(now, tmp_path, "sha256:x", names, ["ckpt-3"]) == _resumes_as_it_is()
    other_floor = now.replace(lr_decay_to=0.5)
    assert record.plan_folder(other_floor, tmp_path, "sha256:x", names, ["ckpt-3"]) == _resumes_as_it_is()
    # Where it takes effect, it is named like any other difference.
    with pytest.raises(CheckpointError, match=r"lr_decay 'none' -> 'linear', lr_decay_to 0.0 -> 0.5"):
        record.plan_folder(
            now.replace(lr_decay="linear", lr_decay_to=0.5), tmp_path, "sha256:x", names, ["ckpt-3"]
        )


def test_the_mode_seeking_space_matters_only_with_the_term_on(tmp_path: Path) -> None:
    # A run without the term, saved before the space existed: another space is no difference.
    off = config.defaults(GanConfig).replace(gen_mode_seeking=0.0)
    record.write(off, tmp_path / "config-gan.yaml", step=3, fingerprint="sha256:x", classes=[], history=[])
    saved = (tmp_path / "config-gan.yaml").read_text().splitlines()
    (tmp_path / "config-gan.yaml").write_text(
        "\n".join(s for s in saved if "gen_mode_seeking_space" not in s)
    )
    names, held = [str(d) for d in range(10)], ["ckpt-3"]
    critic = off.replace(gen_mode_seeking_space="critic")
    assert record.plan_folder(critic, tmp_path, "sha256:x", names, held) == _resumes_as_it_is()
    # With the term on, the space is named like any other difference (the old run's: images).
    on = critic.replace(gen_mode_seeking=0.025)
    with pytest.raises(CheckpointError, match=r"gen_mode_seeking_space 'images' -> 'critic'"):
        record.plan_folder(on, tmp_path, "sha256:x", names, held)


@pytest.mark.parametrize(
    ("cls", "key"),
    [(cls, key) for cls in ALL for key in cls.PATH_KEYS],
)
def test_an_empty_path_is_refused_not_read_as_here_or_the_default(
    cls: type[config.Config], key: str, tmp_path: Path
) -> None:
    # '--save-dir "$UNSET"' wrote checkpoints into the current folder; '--export ""' drew
    # pictures instead of exporting.
    name = flags.flag(key)
    for value in ("", "  "):
        with pytest.raises(ConfigError, match=rf"^{name} is empty: name a path, or leave the flag out"):
            flags.parse_args(cls, [f"{name}={value}"], "d")
    user = tmp_path / "mine.yaml"
    user.write_text(f"{key}: ''\n")
    if getattr(config.defaults(cls), key):
        with pytest.raises(ConfigError, match=rf"^{user}: {key} is empty: name a path, or leave the key out"):
            flags.parse_args(cls, ["--config", str(user)], "d")
    else:  # empty in the defaults file too, where it means the run's own (or none): a copy loads
        assert getattr(flags.parse_args(cls, ["--config", str(user)], "d")[0], key) == ""


@pytest.mark.parametrize("cls", ALL)
def test_a_copy_of_the_defaults_file_is_a_config_file(cls: type[config.Config], tmp_path: Path) -> None:
    mine = tmp_path / "mine.yaml"
    mine.write_text((config.CONFIG_DIR / cls.DEFAULTS_FILE).read_text())
    assert flags.parse_args(cls, ["--config", str(mine)], "d")[0] == config.defaults(cls)


def test_an_unquoted_off_in_a_config_file_means_off(tmp_path: Path) -> None:
    user = tmp_path / "off.yaml"
    user.write_text("mixed_precision: off\n")  # YAML 1.1 reads it as false
    assert flags.parse_args(GanConfig, ["--config", str(user)], "d")[0].mixed_precision == "off"
    user.write_text("strategy: no\n")  # no choice named 'off': refused, saying why
    with pytest.raises(ConfigError, match=r"'strategy' must be str, got False \(bool\) \(YAML reads on, off"):
        flags.parse_args(GanConfig, ["--config", str(user)], "d")
