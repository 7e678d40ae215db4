"""generate.py: the files it writes, reproducibility, the SavedModel, and bad input."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from conftest import run_script
from PIL import Image

from mnist_gan import configs
from mnist_gan.drawing import OWN_FILES, slugs, write_outputs
from mnist_gan.generation import parse_classes
from mnist_gan.runtime import checkpoints, config, flags, record
from mnist_gan.runtime.checkpoints import CheckpointError
from mnist_gan.runtime.errors import ConfigError, UserError
from mnist_gan.training.gan_trainer import GanTrainer


def _generate(ckpt: Path, out: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return run_script("generate.py", "--checkpoint-dir", str(ckpt), "--output-dir", str(out), *flags)


def test_files_and_grid_match_the_flags(tiny_gan: Path, tmp_path: Path) -> None:
    result = _generate(tiny_gan, tmp_path / "out", "--classes", "3,5", "--count", "4")
    assert result.returncode == 0, result.stderr[-2000:]
    names = sorted(p.name for p in (tmp_path / "out").glob("digit*.png"))
    assert names == [f"digit{d}_{i:04d}.png" for d in (3, 5) for i in range(4)]
    for name in names:
        assert Image.open(tmp_path / "out" / name).size == (28, 28)
    grid = Image.open(tmp_path / "out" / "grid.png")
    # (width, height): 4 columns, 2 rows, 2 px gaps, a 12 px margin naming each row's digit
    assert grid.size == (12 + 4 * 30 + 2, 2 * 30 + 2)
    assert "grid: " in result.stdout and str(tmp_path / "out") in result.stdout
    assert f"8 images: {tmp_path / 'out'}/digit*.png" in result.stdout
    assert result.stdout.startswith(f"drawn from {tiny_gan}/ckpt-")  # which checkpoint, first


def test_same_seed_same_bytes(tiny_gan: Path, tmp_path: Path) -> None:
    base = config.defaults(configs.GenerateConfig).replace(
        checkpoint_dir=str(tiny_gan), count=3, interpolate=True, interpolation_frames=5
    )
    files = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        write_outputs(base.replace(output_dir=str(tmp_path / name), seed=seed))
        files[name] = {p.name: p.read_bytes() for p in sorted((tmp_path / name).iterdir())}
    assert files["a"] == files["b"]
    assert files["a"]["grid.png"] != files["c"]["grid.png"]
    gif = Image.open(tmp_path / "a" / "interpolation_4.gif")
    assert getattr(gif, "n_frames", 1) == 5
    assert gif.size == (4 * 28, 4 * 28)  # enlarged 4x
    assert Image.open(tmp_path / "a" / "interpolation_4.png").size == (5 * 30 + 2, 32)


def test_savedmodel_round_trip_in_a_fresh_process(tiny_gan: Path, tmp_path: Path) -> None:
    cfg = config.defaults(configs.GenerateConfig).replace(
        checkpoint_dir=str(tiny_gan),
        output_dir=str(tmp_path / "out"),
        classes="2,7",
        count=3,
        seed=11,
    )
    written = write_outputs(cfg)
    assert written["images"] and not written["export"]
    exported = write_outputs(cfg.replace(export=str(tmp_path / "model"), output_dir=str(tmp_path / "none")))
    # --export writes the SavedModel only: no pictures anywhere.
    assert exported["export"] and not exported["images"] and not (tmp_path / "none").exists()
    expected = np.stack(
        [np.array(Image.open(tmp_path / "out" / f"digit{d}_{i:04d}.png")) for d in (2, 7) for i in range(3)]
    )
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import tensorflow as tf
        assert "mnist_gan" not in sys.modules
        m = tf.saved_model.load({str(tmp_path / "model")!r})
        labels = tf.constant([2, 2, 2, 7, 7, 7], tf.int32)
        images = m.signatures["sample"](labels=labels, seed=tf.constant(11, tf.int64))["images"].numpy()
        noise = tf.random.stateless_normal([6, 8], seed=[11, 0])
        again = m.signatures["serving_default"](labels=labels, noise=noise)["images"].numpy()
        assert images.dtype == np.uint8 and images.shape == (6, 28, 28)
        assert (images == again).all()
        names = m.signatures["classes"]()["class_names"].numpy()
        assert [n.decode() for n in names] == [str(d) for d in range(10)], names
        np.save(sys.argv[1], images)
        try:
            m.signatures["sample"](labels=tf.constant([12]), seed=tf.constant(1, tf.int64))
        except tf.errors.InvalidArgumentError as e:
            assert "labels must be class indices 0-9" in str(e), e
        else:
            raise AssertionError("label 12 accepted")
    """)
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_array_equal(np.load(tmp_path / "x.npy"), expected)


DIGITS = [str(d) for d in range(10)]


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("0-9", list(range(10))),
        ("3,5,7", [3, 5, 7]),
        ("1 2", [1, 2]),
        ("0-2,9", [0, 1, 2, 9]),
        ("", list(range(10))),
        ("3, 5,", [3, 5]),
    ],
)
def test_parse_digits(text: str, digits: list[int]) -> None:
    assert parse_classes(text, DIGITS) == digits


@pytest.mark.parametrize("text", ["12", "-1", "a", "5-3", "0-10", "\u0663", "1-\u0663"])  # ٣: Arabic-Indic 3
def test_bad_digits_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=rf"classes: '{text}' is neither a class of this run nor .* 0-9"):
        parse_classes(text, DIGITS)


@pytest.mark.parametrize("text", ["3,,5", "3, ,5", ",,"])
def test_an_empty_item_between_commas_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="empty item between two commas"):
        parse_classes(text, DIGITS)


def test_the_flags_of_pictures_beside_export_are_refused_before_any_work(tmp_path: Path) -> None:
    # They were ignored without a word: the SavedModel is asked for classes when called.
    export = ["--checkpoint-dir", str(tmp_path / "no-run"), "--export", str(tmp_path / "m")]
    result = run_script("generate.py", *export, "--classes", "3", "--count", "2")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: --export writes the SavedModel alone")
    assert "--classes, --count are for pictures" in result.stderr and len(result.stderr.splitlines()) == 1
    result = run_script("generate.py", *export, "--output-dir", str(tmp_path / "out"))
    assert result.returncode == 2 and "--output-dir is for pictures" in result.stderr
    assert not (tmp_path / "m").exists() and not (tmp_path / "out").exists()
    result = run_script("generate.py", *export, "--interpolate")
    assert result.returncode == 2 and "--interpolate is for pictures" in result.stderr
    # --no-interpolate asks for no picture: it was refused as --interpolate is.
    result = run_script("generate.py", *export, "--no-interpolate")
    assert result.returncode == 2 and result.stderr.startswith(
        f"error: {tmp_path}/no-run: no trained GAN here"
    )


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"classes": "3,10"}, ConfigError, "'10' is neither a class of this run"),
        ({"count": 0}, ConfigError, "count must be >= 1"),
        ({"checkpoint_dir": "nowhere"}, CheckpointError, r"no trained GAN here; run \./train\.py first"),
        ({"step": "3"}, CheckpointError, r"no checkpoint at step 3 \(steps saved: 4\)"),
    ],
)
def test_bad_input_writes_nothing(
    tiny_gan: Path, tmp_path: Path, changes: dict, error: type, message: str
) -> None:
    cfg = config.defaults(configs.GenerateConfig).replace(
        checkpoint_dir=str(tiny_gan), output_dir=str(tmp_path / "out")
    )
    with pytest.raises(error, match=message):
        write_outputs(cfg.replace(**changes))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("flags", "meant"),
    [
        (["--interpolation", "5"], "--interpolation-frames"),  # it suggested the switch --interpolate
        (["--interpolation=5"], "--interpolation-frames"),
        (["--interpolation"], "--interpolate"),
        (["--cout", "5"], "--count"),
        (["--interpolation-frame"], "--interpolation-frames"),  # no value: the nearest still
    ],
)
def test_a_near_miss_is_named_by_whether_a_value_follows_it(flags: list[str], meant: str) -> None:
    result = run_script("generate.py", *flags)
    assert result.returncode == 2 and result.stdout == ""
    said = f"error: unrecognized arguments: {' '.join(flags)}; did you mean {meant}?"
    assert result.stderr == f"{said} (see generate.py --help)\n"


def test_a_step_with_leading_zeros_is_that_step(tiny_gan: Path) -> None:
    # '--step 04' was refused as "not a step number"; ckpt-4 is what a user reads it as.
    from mnist_gan.runtime import checkpoints, limits

    limits.check_step("04")
    assert checkpoints.latest(tiny_gan, "04") == str(tiny_gan / "ckpt-4")
    assert checkpoints.latest(tiny_gan, "00") == checkpoints.latest(tiny_gan, "newest")
    for bad in ("\u0663", "4.0", "-04"):  # ٣ (Arabic-Indic 3): not an ASCII step number
        with pytest.raises(ConfigError, match="step must be newest, best or a step number"):
            limits.check_step(bad)


def test_checkpoint_list_lost_or_newest_damaged(tiny_gan: Path, tmp_path: Path) -> None:
    folder = tmp_path / "gan"
    shutil.copytree(tiny_gan, folder)
    (folder / "checkpoint").write_text("garbage{{\n")  # the list damaged: the files still count
    assert checkpoints.latest(folder) == str(folder / "ckpt-4")
    result = _generate(folder, tmp_path / "out", "--classes", "3", "--count", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"1 image: {tmp_path / 'out'}/digit*.png" in result.stdout  # not "1 images"
    assert "WARNING" not in result.stderr and "ERROR" not in result.stderr
    (folder / "checkpoint").unlink()
    assert checkpoints.latest(folder, 4) == str(folder / "ckpt-4")
    shutil.copytree(tiny_gan, folder, dirs_exist_ok=True)
    (folder / "ckpt-4.index").unlink()  # listed, but its index gone: named, not "no GAN here"
    result = _generate(folder, tmp_path / "out2")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "ckpt-4.index is missing: that checkpoint is damaged" in result.stderr
    assert not (tmp_path / "out2").exists()


def test_output_path_that_is_a_file(tiny_gan: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("keep me")
    result = _generate(tiny_gan, tmp_path / "taken")
    assert result.returncode == 2 and result.stdout == ""
    assert "is a file, not a folder" in result.stderr
    assert (tmp_path / "taken").read_text() == "keep me"


def test_unwritable_export_refused_before_any_png(tiny_gan: Path, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("keep me")
    cfg = config.defaults(configs.GenerateConfig).replace(
        checkpoint_dir=str(tiny_gan),
        output_dir=str(tmp_path / "out"),
        export=str(tmp_path / "taken" / "model"),
    )
    with pytest.raises(
        UserError, match=r"taken/model: cannot write there \(.*taken is a file, not a folder\)"
    ):
        write_outputs(cfg)
    assert not (tmp_path / "out").exists()


def test_evaluate_unwritable_output_refused_before_the_work(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("keep me")
    result = run_script(
        "evaluate.py",
        "--checkpoint-dir",
        str(tmp_path / "none"),
        "--output",
        str(tmp_path / "taken" / "m.json"),
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "taken/m.json: cannot write there" in result.stderr  # not "no trained GAN here"
    assert (tmp_path / "taken").read_text() == "keep me"


def test_second_run_into_the_same_folder_refused_or_replaces_only_its_own(
    tiny_gan: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    first = _generate(tiny_gan, out, "--classes", "0-9", "--count", "3", "--interpolate")
    assert first.returncode == 0, first.stderr[-2000:]
    again = _generate(tiny_gan, out, "--classes", "7", "--count", "2")
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.startswith("error: ") and "--overwrite" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert (out / "digit0_0000.png").exists()  # refused before touching anything

    replaced = _generate(tiny_gan, out, "--digits", "7", "--count", "2", "--overwrite")  # the old flag
    assert replaced.returncode == 0, replaced.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["digit7_0000.png", "digit7_0001.png", "grid.png"]

    (out / "mine").mkdir()  # another set of pictures beside these: left alone
    (out / "mine" / "grid.png").write_text("kept")
    beside = _generate(tiny_gan, out, "--classes", "7", "--count", "2", "--overwrite")
    assert beside.returncode == 0 and (out / "mine" / "grid.png").read_text() == "kept"
    (out / "mine").rename(out / "digit3_0000.png")  # a folder named like a picture is in the way
    in_the_way = _generate(tiny_gan, out, "--classes", "7", "--count", "2", "--overwrite")
    assert in_the_way.returncode == 2 and "digit3_0000.png" in in_the_way.stderr
    assert (out / "digit7_0001.png").exists()  # refused before removing anything
    (out / "digit3_0000.png").rename(out / "mine")
    (out / "notes.txt").write_text("mine")
    foreign = _generate(tiny_gan, out, "--overwrite")
    assert foreign.returncode == 2 and "notes.txt" in foreign.stderr
    assert (out / "notes.txt").read_text() == "mine" and (out / "digit7_0001.png").exists()


def test_classes_as_a_yaml_list_and_the_old_key(tmp_path: Path) -> None:
    (tmp_path / "g.yaml").write_text("classes: [3, 5]\ncount: 1\n")
    assert config.load(configs.GenerateConfig, tmp_path / "g.yaml").classes == "3,5"
    (tmp_path / "old.yaml").write_text("digits: [3, 5]\ncount: 1\n")
    cfg = config.load(configs.GenerateConfig, tmp_path / "old.yaml")
    assert cfg.classes == "3,5" and parse_classes(cfg.classes, DIGITS) == [3, 5]
    (tmp_path / "comma.yaml").write_text('classes: [Trouser, "Bag, small"]\n')
    held = r"comma.yaml: 'classes' item 'Bag, small' holds a comma.*by its index"
    with pytest.raises(ConfigError, match=held):
        config.load(configs.GenerateConfig, tmp_path / "comma.yaml")
    (tmp_path / "nested.yaml").write_text("classes: [3, [1, 2]]\n")
    with pytest.raises(ConfigError, match=r"'classes' item \[1, 2\] is not a name or a number"):
        config.load(configs.GenerateConfig, tmp_path / "nested.yaml")


def test_digits_flag_is_a_hidden_alias() -> None:
    cfg, given = flags.parse_args(configs.GenerateConfig, ["--digits", "0,1"], "")
    assert cfg.classes == "0,1" and given == {"classes"}
    shown = flags.build_parser(configs.GenerateConfig, cfg, "").format_help()
    assert "--digits" not in shown and "--classes" in shown


NAMES = ["T-shirt/top", "class two", "Zed"]


@pytest.fixture(scope="module")
def named_gan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained GAN of three named classes, saved as train.py saves one (quick: no training)."""
    folder = tmp_path_factory.mktemp("named_gan")
    cfg = config.defaults(configs.GanConfig).replace(noise_dim=4, gen_width=4, critic_width=4)
    trainer = GanTrainer(cfg, strategy=tf.distribute.get_strategy(), total_steps=1, num_classes=3)
    checkpoints.manager(trainer.checkpoint, folder, 3).save(checkpoint_number=1)
    record.write(cfg, folder / cfg.SAVED_AS, step=1, fingerprint="sha256:test", classes=NAMES, history=[])
    return folder


def _named(named_gan: Path, out: Path, **changes: object) -> configs.GenerateConfig:
    base = config.defaults(configs.GenerateConfig)
    return base.replace(checkpoint_dir=str(named_gan), output_dir=str(out), **changes)


@pytest.mark.parametrize(
    ("text", "chosen"),
    [
        ("T-shirt/top,Zed", [0, 2]),
        ("zed, CLASS TWO", [2, 1]),  # case-insensitive
        ("2,0-1", [2, 0, 1]),  # indices and a range
        ("class two", [1]),  # a name with a space is one item
        ("", [0, 1, 2]),
    ],
)
def test_classes_by_name_or_index(text: str, chosen: list[int]) -> None:
    assert parse_classes(text, NAMES) == chosen


def test_unknown_class_refused_naming_the_classes() -> None:
    with pytest.raises(
        ConfigError, match=r"'Pullover' is neither .* 0-2; its classes: 'T-shirt/top', 'class"
    ):
        parse_classes("Zed,Pullover", NAMES)
    with pytest.raises(ConfigError, match="'3' is neither"):
        parse_classes("3", NAMES)


def test_slugs_are_file_safe_and_distinct() -> None:
    assert slugs(NAMES) == ["t-shirt-top", "class-two", "zed"]
    assert slugs(["A b", "a-b", "C"]) == ["a-b-0", "a-b-1", "c"]
    assert slugs(["a b", "a-b", "a-b-1"]) == ["a-b-0", "a-b-1", "a-b-1-2"]  # still distinct
    assert slugs(["お", "は"]) == ["class-0", "class-1"]


def test_named_classes_files_grid_and_walks(named_gan: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    written = write_outputs(_named(named_gan, out, classes="zed,0,Class Two", count=2, interpolate=True))
    names = sorted(p.name for p in out.iterdir())
    images = [f"class-{s}_{i:04d}.png" for s in ("class-two", "t-shirt-top", "zed") for i in range(2)]
    walks = [f"interpolation_{s}.{x}" for s in ("class-two", "t-shirt-top", "zed") for x in ("gif", "png")]
    assert names == sorted([*images, "grid.png", *walks])
    assert all(OWN_FILES.fullmatch(name) for name in names)  # a second run may replace them
    assert len(written["images"]) == 6 and len(written["interpolation"]) == 6
    assert Image.open(out / "grid.png").size[1] == 3 * 30 + 2  # one row per class
    # Drawn in the order asked: the first row is Zed's.
    assert written["images"][0].name == "class-zed_0000.png"


def test_unknown_class_on_the_command_line_writes_nothing(named_gan: Path, tmp_path: Path) -> None:
    result = _generate(named_gan, tmp_path / "out", "--classes", "Zed,Pullover")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "'Pullover'" in result.stderr and "'T-shirt/top', 'class two', 'Zed'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_savedmodel_carries_the_class_names(named_gan: Path, tmp_path: Path) -> None:
    write_outputs(_named(named_gan, tmp_path / "out", export=str(tmp_path / "model")))
    m = tf.saved_model.load(str(tmp_path / "model"))
    assert [n.decode() for n in m.classes()["class_names"].numpy()] == NAMES
    assert [n.decode() for n in m.signatures["classes"]()["class_names"].numpy()] == NAMES
    images = m.sample(tf.constant([0, 2], tf.int32), tf.constant(1, tf.int64))["images"]
    assert images.dtype == tf.uint8 and images.shape == (2, 28, 28)
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be class indices 0-2"):
        m.sample(tf.constant([3], tf.int32), tf.constant(1, tf.int64))


def test_numbered_class_names_take_names_not_indices() -> None:
    names = [str(n) for n in range(1, 11)]  # folders 1..10: "0" would be index 0, class "1"
    assert parse_classes("10,1", names) == [9, 0]
    with pytest.raises(
        ConfigError, match="'0' is not a class of this run, whose classes are named by numbers other"
    ):
        parse_classes("0", names)


def test_a_name_that_matches_two_classes_but_for_case_is_refused_naming_both() -> None:
    names = ["Été", "été", "hiver"]
    assert parse_classes("été,HIVER", names) == [1, 2]
    with pytest.raises(
        ConfigError, match="'ÉTÉ' matches 'Été' and 'été' but for case; write it as one of them"
    ):
        parse_classes("ÉTÉ", names)


def _drawing(tiny_gan: Path, out: Path, **changes: object) -> configs.GenerateConfig:
    base = config.defaults(configs.GenerateConfig).replace(checkpoint_dir=str(tiny_gan), output_dir=str(out))
    return base.replace(**changes)


def test_an_interrupted_overwrite_keeps_the_earlier_pictures(
    tiny_gan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mnist_gan import drawing

    out = tmp_path / "out"
    write_outputs(_drawing(tiny_gan, out, classes="3,5", count=3))
    earlier = {p.name: p.read_bytes() for p in out.iterdir()}

    def cut(*args: object) -> Path:
        raise KeyboardInterrupt  # Ctrl-C once the new images are written, before the grid

    monkeypatch.setattr(drawing, "_write_grid", cut)
    with pytest.raises(KeyboardInterrupt):
        write_outputs(_drawing(tiny_gan, out, classes="7", count=2, overwrite=True))
    now = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {name: now.get(name) for name in earlier} == earlier  # none lost (deleted first before)
    assert {"digit7_0000.png", "digit7_0001.png"} <= now.keys()
    monkeypatch.undo()
    write_outputs(_drawing(tiny_gan, out, classes="7", count=2, overwrite=True))
    assert sorted(p.name for p in out.iterdir()) == ["digit7_0000.png", "digit7_0001.png", "grid.png"]


def test_an_interrupted_export_leaves_the_folder_as_it_was(
    tiny_gan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model"
    write_outputs(_drawing(tiny_gan, tmp_path / "none", export=str(model)))
    before = {str(p.relative_to(model)): p.read_bytes() for p in model.rglob("*") if p.is_file()}
    real_save = tf.saved_model.save

    def cut(obj: object, path: str, **kwargs: object) -> None:
        real_save(obj, path, **kwargs)
        raise KeyboardInterrupt  # written, not yet in place

    monkeypatch.setattr(tf.saved_model, "save", cut)
    with pytest.raises(KeyboardInterrupt):
        write_outputs(_drawing(tiny_gan, tmp_path / "none", export=str(model), overwrite=True))
    after = {str(p.relative_to(model)): p.read_bytes() for p in model.rglob("*") if p.is_file()}
    assert after == before and sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no leftovers
    with pytest.raises(KeyboardInterrupt):
        write_outputs(_drawing(tiny_gan, tmp_path / "none", export=str(tmp_path / "new")))
    assert not (tmp_path / "new").exists()  # not a half-written folder that blocks the next run


def test_drawing_in_batches_gives_the_bytes_of_one_pass(
    tiny_gan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mnist_gan import generation

    loaded = generation.load_generator(tiny_gan)
    sampler = generation.ClassSampler(loaded.generator, loaded.cfg.noise_dim, loaded.class_names)
    labels = tf.constant(np.repeat(np.array([2, 9], np.int32), 5))
    whole = sampler.sample(labels, tf.constant(4, tf.int64))["images"].numpy().reshape(2, 5, 28, 28)
    monkeypatch.setattr(generation, "DRAW_BATCH", 3)  # 10 images in passes of 3, 3, 3 and 1
    np.testing.assert_array_equal(sampler.draw([2, 9], 5, 4), whole)


def test_checkpoints_without_their_config_say_which_file_is_missing(tiny_gan: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(tiny_gan, run)
    (run / "config-gan.yaml").unlink()
    with pytest.raises(CheckpointError, match=r"run/config-gan\.yaml is missing beside the checkpoints"):
        write_outputs(_drawing(run, tmp_path / "out"))  # not "no trained GAN here; run train.py"
    assert not (tmp_path / "out").exists()
