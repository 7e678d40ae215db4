"""Your own images: an image folder with named classes through every command, end to end."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import TINY_GAN_FLAGS, run_classifier, run_script, run_train
from PIL import Image

from mnist_gan import configs
from mnist_gan.data import sources
from mnist_gan.runtime import config

NAMES = ["circle", "plus sign", "zed"]


@pytest.fixture(scope="module")
def image_folder(sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three classes of real digits (0, 1, 2) saved as images, one folder per class, in the
    formats users have: PNG and JPEG, an RGB image, a 32x32 one to resize, a space in a name."""
    root = tmp_path_factory.mktemp("shapes") / "images"
    train = sources.load(sample_dir).train
    for label, name in enumerate(NAMES):
        folder = root / name
        folder.mkdir(parents=True)
        for i, pixels in enumerate(train.images[train.labels == label][:60]):
            image = Image.fromarray(pixels, mode="L")
            if i == 0:
                image.convert("RGB").save(folder / f"{i:03d}.png")
            elif i == 1:
                image.resize((32, 32)).save(folder / f"{i:03d}.png")
            elif i % 3 == 0:
                image.save(folder / f"{i:03d}.jpg", quality=95)
            else:
                image.save(folder / f"{i:03d}.png")
    return root


def test_the_folder_is_read_with_its_classes_and_conversions(image_folder: Path) -> None:
    data = sources.load(image_folder)
    assert data.source == "image folder" and data.class_names == NAMES
    assert (len(data.train), len(data.test)) == (144, 36)  # 20 % of each class held out
    assert data.train.images.shape[1:] == (28, 28) and data.train.images.dtype == np.uint8
    notes = " ".join(data.notes)
    assert "converted 3 colour images" in notes and "resized 3 images" in notes


def test_an_unreadable_image_is_refused_by_name(image_folder: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(image_folder, broken)
    (broken / "zed" / "999.png").write_bytes(b"not a picture")
    result = run_classifier(broken, tmp_path, "--epochs", "1")
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "zed/999.png: cannot read this image" in result.stderr
    assert not (tmp_path / "classifier").exists()  # refused before anything was written


def test_a_folder_that_is_neither_says_what_was_expected(tmp_path: Path) -> None:
    (tmp_path / "empty" / "notes").mkdir(parents=True)
    (tmp_path / "empty" / "notes" / "a.txt").write_text("x")
    result = run_classifier(tmp_path / "empty", tmp_path, "--epochs", "1")
    assert result.returncode == 2
    assert "holds neither the four IDX files" in result.stderr and "one folder per class" in result.stderr


def test_named_classes_through_every_command(
    image_folder: Path, tmp_path: Path, trained_classifier: Path
) -> None:
    trained = run_classifier(image_folder, tmp_path, "--epochs", "2", "--batch-size", "16")
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "3 classes: circle, plus sign, zed" in trained.stdout
    cls_dir = str(tmp_path / "classifier")
    gan_flags = [
        "--steps",
        "4",
        "--classifier-dir",
        cls_dir,
        *TINY_GAN_FLAGS,
        "--eval-samples",
        "200",  # more than the 144 training images: the run says it scores fewer
    ]
    gan = run_train(image_folder, tmp_path, *gan_flags)
    assert gan.returncode == 0, gan.stderr[-3000:]
    assert "note: scoring 144 generated digits, not eval_samples 200" in gan.stdout
    # Progress in a file (not a terminal): whole lines, no carriage returns piling up.
    assert "\r" not in gan.stderr and "gan: 4/4 steps (100%)" in gan.stderr, gan.stderr[-2000:]
    # Run again, finished: it says so, and nothing about scoring it will not do.
    again = run_train(image_folder, tmp_path, *gan_flags)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already at step 4; raise --steps to continue" in again.stdout
    assert "scoring" not in again.stdout, again.stdout
    record = yaml.safe_load((tmp_path / "ckpt" / "config-gan.yaml").read_text())
    assert record["run"]["classes"] == NAMES
    grid = Image.open(next((tmp_path / "logs").glob("*/samples/step-0000004.png")))
    assert grid.size[1] == 3 * 30 + 2  # one row per class

    drawn = run_script(
        "generate.py", "--checkpoint-dir", str(tmp_path / "ckpt"), "--output-dir", str(tmp_path / "out"),
        "--classes", "plus sign", "--count", "2",
    )  # fmt: skip
    assert drawn.returncode == 0, drawn.stderr[-3000:]
    assert len(list((tmp_path / "out").glob("*plus-sign*.png"))) == 2

    scored = run_script(
        "evaluate.py", "--checkpoint-dir", str(tmp_path / "ckpt"), "--eval-samples", "30", "--no-cas",
        "--output", str(tmp_path / "metrics.json"),
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr[-3000:]
    assert "plus sign" in scored.stdout
    assert "\r" not in scored.stderr and "evaluate, stage 1/" in scored.stderr, scored.stderr[-2000:]
    # A classifier of other classes asked for: the GAN's own is named as the way out.
    other = run_script(
        "evaluate.py", "--checkpoint-dir", str(tmp_path / "ckpt"),
        "--classifier-dir", str(trained_classifier), "--eval-samples", "30", "--no-cas", "--output", "-",
    )  # fmt: skip
    assert other.returncode == 2
    assert other.stderr.strip().splitlines() == [
        f"error: the classifier in {trained_classifier} has the classes {[str(d) for d in range(10)]}, "
        f"the data {NAMES}; use the GAN's own: --classifier-dir {cls_dir}"
    ]
    assert list(json.loads((tmp_path / "metrics.json").read_text())["per_class_accuracy"]) == NAMES


def test_resume_on_other_classes_is_refused_naming_both(image_folder: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "renamed"
    shutil.copytree(image_folder, renamed)
    (renamed / "zed").rename(renamed / "zulu")
    first = run_train(image_folder, tmp_path, "--steps", "2", "--no-eval", *TINY_GAN_FLAGS)
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_train(renamed, tmp_path, "--steps", "4", "--no-eval", *TINY_GAN_FLAGS)
    assert second.returncode == 2
    assert "classes ['circle', 'plus sign', 'zed'] -> ['circle', 'plus sign', 'zulu']" in second.stderr


def test_idx_class_names_from_classes_txt_and_the_flag(tmp_path: Path) -> None:
    from conftest import synthetic_digits, write_dataset

    x, y = synthetic_digits(40)
    write_dataset(tmp_path, x, y, x, y)
    assert sources.load(tmp_path).class_names == [str(d) for d in range(10)]
    names = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]
    (tmp_path / "classes.txt").write_text("\n".join(names) + "\n")
    assert sources.load(tmp_path).class_names == names
    assert sources.load(tmp_path, class_names=",".join("abcdefghij")).class_names == list("abcdefghij")
    with pytest.raises(sources.DataError, match="names 3 classes"):
        sources.load(tmp_path, class_names="a,b,c")


def test_idx_classes_without_training_images_are_refused(tmp_path: Path) -> None:
    from conftest import synthetic_digits, write_dataset

    x, y = synthetic_digits(40)
    stray = y.copy()
    stray[5] = 255  # one damaged label byte: it would have made 256 classes
    write_dataset(tmp_path / "stray", x, stray, x, y)
    with pytest.raises(
        sources.DataError, match=r"no training images of the classes '10', '11', .* and 235 more"
    ):
        sources.load(tmp_path / "stray")
    write_dataset(tmp_path / "extra", x, y, x, y)
    (tmp_path / "extra" / "classes.txt").write_text("\n".join([*"abcdefghij", "k"]) + "\n")
    with pytest.raises(
        sources.DataError, match=r"no training images of the classes 'k'; every class needs some"
    ):
        sources.load(tmp_path / "extra")


def test_class_folders_holding_only_sub_folders_are_an_image_folder(tmp_path: Path) -> None:
    for name in ("cat", "dog"):
        for i in range(3):
            (tmp_path / name / "batch-a").mkdir(parents=True, exist_ok=True)
            Image.new("L", (28, 28), 40 * i).save(tmp_path / name / "batch-a" / f"{i}.png")
    data = sources.load(tmp_path, test_fraction=0.34)
    assert data.class_names == ["cat", "dog"] and len(data.train) + len(data.test) == 6


def test_bad_class_names_are_one_clear_error(tmp_path: Path) -> None:
    from conftest import synthetic_digits, write_dataset

    x, y = synthetic_digits(20)
    write_dataset(tmp_path, x, y, x, y)
    with pytest.raises(sources.DataError, match="has an empty name"):
        sources.load(tmp_path, class_names="a,,b")
    (tmp_path / "classes.txt").write_bytes(b"\xff\xfe zero\n")
    with pytest.raises(sources.DataError, match=r"classes.txt: not UTF-8 text"):
        sources.load(tmp_path)


def test_runs_recorded_before_class_names_take_the_datas_ten_names() -> None:
    from mnist_gan.runtime import record

    fashion = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"]
    fashion += ["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert record.classes({}) == record.DIGITS
    assert record.classes({}, fashion) == fashion  # ten unnamed classes, named by the data
    assert record.classes({}, ["a", "b", "c"]) == record.DIGITS  # which then differ: refused
    assert record.classes({"classes": ["a", "b"]}, fashion) == ["a", "b"]


def test_classes_txt_from_notepad_and_its_mistakes(tmp_path: Path) -> None:
    from conftest import synthetic_digits, write_dataset

    x, y = synthetic_digits(20)
    write_dataset(tmp_path, x, y, x, y)
    names = [f"n{d}" for d in range(10)]
    listed = tmp_path / "classes.txt"
    listed.write_bytes(
        b"\xef\xbb\xbf" + "\r\n".join(names).encode() + b"\r\n\r\n"
    )  # BOM, CRLF, trailing blank
    assert sources.load(tmp_path).class_names == names
    listed.write_text("\n".join([*names[:3], "", *names[3:]]) + "\n")
    with pytest.raises(
        sources.DataError, match=r"classes.txt: line 4 is blank, which would shift every name after"
    ):
        sources.load(tmp_path)
    listed.write_text("\n".join([*names[:9], "n0"]) + "\n")
    with pytest.raises(
        sources.DataError, match=r"classes.txt: names 'n0' more than once; class names must differ"
    ):
        sources.load(tmp_path)
    with pytest.raises(sources.DataError, match=r"^--class-names: names 'a', 'b' more than once"):
        sources.load(tmp_path, class_names="a,b,a,b,c,d,e,f,g,h")


def test_a_data_dir_that_is_a_file_says_so(tmp_path: Path) -> None:
    archive = tmp_path / "digits.zip"
    archive.write_bytes(b"PK\x03\x04")
    with pytest.raises(
        sources.DataError, match=r"digits.zip: is a file, not a folder \(an archive\? unpack it"
    ):
        sources.load(archive)


def test_evaluate_on_the_same_classes_as_a_folder_and_on_changed_data(
    image_folder: Path, tmp_path: Path
) -> None:
    from conftest import write_dataset

    data = sources.load(image_folder)
    write_dataset(tmp_path / "idx", data.train.images, data.train.labels, data.test.images, data.test.labels)
    trained = run_classifier(image_folder, tmp_path, "--epochs", "1", "--batch-size", "16")
    assert trained.returncode == 0, trained.stderr[-3000:]
    gan = run_train(
        tmp_path / "idx",
        tmp_path,
        "--steps",
        "2",
        "--no-eval",
        "--class-names",
        ",".join(NAMES),
        *TINY_GAN_FLAGS,
    )
    assert gan.returncode == 0, gan.stderr[-3000:]

    def evaluate(data_dir: Path) -> subprocess.CompletedProcess[str]:
        return run_script(
            "evaluate.py", "--checkpoint-dir", str(tmp_path / "ckpt"),
            "--classifier-dir", str(tmp_path / "classifier"), "--data-dir", str(data_dir),
            "--eval-samples", "30", "--no-cas", "--output", "-",
        )  # fmt: skip

    # IDX files named with --class-names, then the same images as a folder of those classes:
    # the folder's classes are its folders (no --class-names to refuse), the data the same.
    same = evaluate(image_folder)
    assert same.returncode == 0, same.stderr[-3000:]
    assert "other training images" not in same.stdout
    changed = tmp_path / "changed"
    shutil.copytree(image_folder, changed)
    shutil.copy(image_folder / "zed" / "002.png", changed / "zed" / "extra.png")
    other = evaluate(changed)
    assert other.returncode == 0, other.stderr[-3000:]
    assert f"note: the GAN in {tmp_path / 'ckpt'} was trained on other training images (" in other.stdout
    assert "its copying check compares with these" in other.stdout


def test_a_test_fraction_the_data_does_not_use_is_noted(tmp_path: Path) -> None:
    from conftest import synthetic_digits, write_dataset

    x, y = synthetic_digits(20)
    write_dataset(tmp_path, x, y, x, y)
    assert sources.load(tmp_path).notes == []
    # The note is silent for the configs' default: a copy of it here must follow theirs.
    for kind in (configs.GanConfig, configs.ClassifierConfig):
        default = config.defaults(kind).test_fraction
        assert sources.load(tmp_path, test_fraction=default).notes == [], kind.__name__
    assert sources.load(tmp_path, test_fraction=0.5).notes == [
        "--test-fraction 0.5 does not apply to this data: the IDX files hold their own split"
    ]
