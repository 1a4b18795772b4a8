"""``rnnpipe-data``: put the real datasets under ``data/raw/`` and check them with our readers.

Multi30k (task 1, raw English/German) is downloaded from a pinned commit of its public
repository. Each file is written to ``<name>.part`` and takes its final name only once its
SHA-256 matches, so a file with the final name is always a verified one: an interrupted
download leaves a ``.part`` that the next run resumes (HTTP ``Range``), a corrupt one is
deleted, and files already verified are not fetched again.

CoNLL-2003 and the restaurant reviews have no stable, freely redistributable address: the
command says where to get them and where to put them. Whatever lies in the data directory,
downloaded or placed by hand, is then read with the same readers training uses, and their
counts printed; a broken file fails the command with the reader's ``file:line`` error.
"""

from __future__ import annotations

import argparse
import http.client
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from tqdm import tqdm

from rnnpipe.config import PROJECT_ROOT
from rnnpipe.data.reviews import LABEL_NAMES, read_reviews
from rnnpipe.data.text_file import sha256_of
from rnnpipe.errors import RnnpipeError, reported_in_one_line
from rnnpipe.tasks.ner.conll import read_conll
from rnnpipe.tasks.translation.corpus import read_parallel

DEFAULT_DATA_DIR = PROJECT_ROOT / "data" / "raw"

MULTI30K_REPOSITORY = "multi30k/dataset"
MULTI30K_COMMIT = "a3d2e0d26b56f3846f66a952536ffed4e401d05a"
MULTI30K_FOLDER = "data/task1/raw"
MULTI30K_URL = (
    f"https://raw.githubusercontent.com/{MULTI30K_REPOSITORY}/{MULTI30K_COMMIT}/{MULTI30K_FOLDER}"
)
MULTI30K_SPLITS = ("train", "val", "test_2016_flickr")
MULTI30K_SHA256 = {  # of the files at MULTI30K_COMMIT
    "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    "test_2016_flickr.en.gz": "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    "test_2016_flickr.de.gz": "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
}

WHERE_TO_GET = {
    "multi30k": (
        f"downloaded by `rnnpipe-data` (without --offline) from {MULTI30K_URL}/<split>.<en|de>.gz "
        f"(https://github.com/{MULTI30K_REPOSITORY}), or copied there by hand"
    ),
    "conll2003": (
        "CoNLL-2003 English needs the Reuters RCV1 corpus (licence: "
        "https://trec.nist.gov/data/reuters/reuters.html) and the annotations of "
        "https://www.clips.uantwerpen.be/conll2003/ner/; save eng.train, eng.testa and "
        "eng.testb (or a copy you are licensed to use, same column format) as train.txt, "
        "valid.txt and test.txt"
    ),
    "restaurant_reviews": (
        "Restaurant_Reviews.tsv (1000 Yelp review sentences under a 'Review<TAB>Liked' header) "
        "ships with the 'Machine Learning A-Z' course material and its Kaggle copies; the same "
        "sentences are yelp_labelled.txt of UCI's Sentiment Labelled Sentences "
        "(https://archive.ics.uci.edu/dataset/331/sentiment+labelled+sentences): add the "
        "header line 'Review<TAB>Liked' to use that file"
    ),
}

BLOCK_BYTES = 1 << 16
PART_SUFFIX = ".part"


# -- downloading -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RemoteFile:
    """A file to download: where from, the SHA-256 it must have, and where it goes."""

    url: str
    sha256: str
    destination: Path

    @property
    def part(self) -> Path:
        """Where the bytes gather until their checksum matches."""
        return self.destination.with_name(self.destination.name + PART_SUFFIX)


def multi30k_files(data_dir: Path, base_url: str = MULTI30K_URL) -> list[RemoteFile]:
    """Multi30k's train, val and test_2016_flickr files (both languages) under ``data_dir``."""
    return [
        RemoteFile(f"{base_url.rstrip('/')}/{name}", sha256, data_dir / "multi30k" / name)
        for name, sha256 in MULTI30K_SHA256.items()
    ]


def check_sha256(path: Path, expected: str) -> None:
    """A file that is not the one expected is rejected, never used or silently replaced."""
    actual = sha256_of(path)
    if actual != expected:
        raise RnnpipeError(
            f"{path}: expected SHA-256 {expected}, got {actual} "
            "(delete the file to download it again)"
        )


def fetch(remote: RemoteFile, timeout: float = 30.0) -> bool:
    """Download ``remote`` unless it is already there and verified; True if it was downloaded.

    A download that breaks off keeps its ``.part`` for the next run to resume; one whose
    SHA-256 does not match is deleted, so a rerun starts it again.
    """
    if remote.destination.is_file():
        check_sha256(remote.destination, remote.sha256)
        return False
    remote.destination.parent.mkdir(parents=True, exist_ok=True)
    receive(remote, timeout)
    actual = sha256_of(remote.part)
    if actual != remote.sha256:
        remote.part.unlink()
        raise RnnpipeError(
            f"{remote.url}: expected SHA-256 {remote.sha256}, got {actual}; "
            f"the download was deleted and {remote.destination} not written"
        )
    remote.part.replace(remote.destination)
    return True


def receive(remote: RemoteFile, timeout: float) -> None:
    """Write the bytes at ``remote.url`` to ``remote.part``, continuing what a ``.part`` holds.

    The rest of the file is asked for with ``Range: bytes=<size of .part>-``; a server that
    answers with the whole file (200 instead of 206) has it written from the start.
    """
    offset = remote.part.stat().st_size if remote.part.is_file() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        with urlopen(Request(remote.url, headers=headers), timeout=timeout) as response:
            if response.status != http.client.PARTIAL_CONTENT:
                offset = 0  # Range ignored: the whole file comes
            length = response.headers.get("Content-Length")
            total = offset + int(length) if length is not None else None
            with (
                open(remote.part, "ab" if offset else "wb") as out,
                tqdm(
                    total=total,
                    initial=offset,
                    desc=remote.destination.name,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                ) as progress,
            ):
                while block := response.read(BLOCK_BYTES):
                    out.write(block)
                    progress.update(len(block))
    except HTTPError as error:
        if error.code == http.client.REQUESTED_RANGE_NOT_SATISFIABLE and offset:
            # the .part already holds as many bytes as the file, yet was never verified
            remote.part.unlink()
            return receive(remote, timeout)
        raise RnnpipeError(
            f"could not download {remote.url}: HTTP {error.code} {error.reason}"
        ) from None
    except (URLError, OSError, http.client.HTTPException) as error:
        reason = error.reason if isinstance(error, URLError) else error
        raise RnnpipeError(f"could not download {remote.url}: {reason}") from None
    received = remote.part.stat().st_size
    if total is not None and received < total:  # urllib returns a cut-off body without error
        raise RnnpipeError(
            f"could not download {remote.url}: the connection closed after {received} of "
            f"{total} bytes (run again to resume from {remote.part})"
        )


# -- checking what lies in the data directory --------------------------------------------------
def count_pairs(pairs: Sequence[Any]) -> str:
    return f"{len(pairs)} sentence pairs"


def count_tagged(sentences: Sequence[Any]) -> str:
    tokens = sum(len(sentence.words) for sentence in sentences)
    labels = sorted({tag for sentence in sentences for tag in sentence.tags})
    return f"{len(sentences)} sentences, {tokens} tokens, {len(labels)} labels ({' '.join(labels)})"


def count_reviews(reviews: Sequence[Any]) -> str:
    per_label = Counter(review.label for review in reviews)
    labelled = ", ".join(f"{per_label[i]} {name}" for i, name in enumerate(LABEL_NAMES))
    return f"{len(reviews)} reviews: {labelled}"


@dataclass(frozen=True)
class PlacedSplit:
    """One split of a dataset in the data directory and how to check it."""

    dataset: str
    split: str
    files: tuple[str, ...]  # relative to the data directory, in the order ``read`` takes them
    read: Callable[..., Sequence[Any]]  # the project's reader: DataFormatError for a broken file
    count: Callable[[Sequence[Any]], str]  # what to report about what was read


PLACED_SPLITS = (
    *(
        PlacedSplit(
            "multi30k",
            split,
            (f"multi30k/{split}.en.gz", f"multi30k/{split}.de.gz"),
            read_parallel,
            count_pairs,
        )
        for split in MULTI30K_SPLITS
    ),
    *(
        PlacedSplit("conll2003", split, (f"conll2003/{split}.txt",), read_conll, count_tagged)
        for split in ("train", "valid", "test")
    ),
    PlacedSplit(
        "restaurant_reviews",
        "all",
        ("restaurant_reviews/Restaurant_Reviews.tsv",),
        read_reviews,
        count_reviews,
    ),
)


def check_placed(data_dir: Path, expected_sha256: dict[Path, str]) -> None:
    """Read every split found under ``data_dir`` and print its counts.

    Missing files are listed with where to get them (a task needs only its own dataset);
    files with a known SHA-256 must match it. Every broken file is reported, then the first
    problem (and how many there were) is raised as an :class:`RnnpipeError`.
    """
    print(f"Checking {data_dir} with the project's readers:")
    problems: list[str] = []
    incomplete: list[str] = []  # datasets with a file missing
    width = max(len(f"{s.dataset} {s.split}") for s in PLACED_SPLITS)
    for placed in PLACED_SPLITS:
        name = f"{placed.dataset} {placed.split}".ljust(width)
        paths = [data_dir / file for file in placed.files]
        missing = [path for path in paths if not path.is_file()]
        if missing:
            if placed.dataset not in incomplete:
                incomplete.append(placed.dataset)
            print(f"  {name}  missing: {', '.join(map(str, missing))}")
            continue
        try:
            for path in paths:
                if path in expected_sha256:
                    check_sha256(path, expected_sha256[path])
            report = placed.count(placed.read(*paths))
        except RnnpipeError as error:  # DataFormatError included: file:line
            problems.append(str(error))
            print(f"  {name}  REJECTED: {error}")
            continue
        print(f"  {name}  {report}")
    for dataset in incomplete:
        folder = data_dir / dataset
        print(f"\nTo add {dataset} ({folder}/): {WHERE_TO_GET[dataset]}.")
    if problems:
        others = f" (and {len(problems) - 1} more, see above)" if len(problems) > 1 else ""
        raise RnnpipeError(problems[0] + others)


# -- the command -------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="rnnpipe-data",
        description=(
            "Download Multi30k (SHA-256 verified) and check CoNLL-2003 and the restaurant "
            "reviews placed by hand, all with the readers training uses."
        ),
        epilog="Where to get each dataset: "
        + " | ".join(f"{name}: {how}" for name, how in WHERE_TO_GET.items()),
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="holds multi30k/, conll2003/ and restaurant_reviews/ (default: %(default)s)",
    )
    parser.add_argument(
        "--offline", action="store_true", help="download nothing; only check what is there"
    )
    parser.add_argument(
        "--base-url",
        default=MULTI30K_URL,
        help="where the Multi30k <split>.<lang>.gz files are served (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the server (default 30)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry (``rnnpipe-data``, ``make data``): exit status 1 on any broken file."""
    args = parse_args(argv)
    with reported_in_one_line():
        remotes = multi30k_files(args.data_dir, args.base_url)
        if not args.offline:
            print(f"Multi30k from {args.base_url}")
            for remote in remotes:
                downloaded = fetch(remote, args.timeout)
                state = "downloaded, SHA-256 verified" if downloaded else "already verified"
                print(f"  {remote.destination}: {state}")
        check_placed(args.data_dir, {remote.destination: remote.sha256 for remote in remotes})


if __name__ == "__main__":
    main()
