"""rnnpipe-data: verified, resumable downloads from a real local HTTP server, and the checks
of hand-placed files with the project's readers. Nothing here touches the network."""

from __future__ import annotations

import gzip
import hashlib
import random
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rnnpipe.cli import data as download
from rnnpipe.cli.data import RemoteFile, fetch, main
from rnnpipe.errors import RnnpipeError

BODY = random.Random(0).randbytes(300_000)  # several download blocks
BODY_SHA256 = hashlib.sha256(BODY).hexdigest()


class FileServer:
    """Serves ``files`` at ``url`` (http.server in a thread) and records every request.

    ``cut_after``: send only that many bytes of a body (after announcing all of it), then
    close. ``honour_range``: answer ``Range: bytes=N-`` with 206 and the rest of the file;
    when False, the whole file with 200, as a server without range support does.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.cut_after: int | None = None
        self.honour_range = True
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name, asked = self.path.lstrip("/"), self.headers.get("Range")
                server.requests.append((name, asked))
                if name not in server.files:
                    self.send_error(404)
                    return
                body, start = server.files[name], 0
                if asked and server.honour_range:
                    start = int(asked.removeprefix("bytes=").removesuffix("-"))
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                end = len(body) if server.cut_after is None else start + server.cut_after
                self.wfile.write(body[start:end])  # HTTP/1.0: the connection closes after this

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def server() -> Iterator[FileServer]:
    files = FileServer()
    thread = threading.Thread(target=files.httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield files
    files.httpd.shutdown()
    files.httpd.server_close()
    thread.join()


def remote_body(server: FileServer, tmp_path: Path, sha256: str = BODY_SHA256) -> RemoteFile:
    server.files["train.en.gz"] = BODY
    return RemoteFile(f"{server.url}/train.en.gz", sha256, tmp_path / "multi30k" / "train.en.gz")


def test_good_download_lands_verified_without_part(server, tmp_path):
    remote = remote_body(server, tmp_path)
    assert fetch(remote, timeout=5) is True
    assert remote.destination.read_bytes() == BODY
    assert list(remote.destination.parent.iterdir()) == [remote.destination]
    assert server.requests == [("train.en.gz", None)]


def test_checksum_mismatch_leaves_no_file(server, tmp_path):
    expected = "0" * 64
    remote = remote_body(server, tmp_path, sha256=expected)
    with pytest.raises(RnnpipeError) as error:
        fetch(remote, timeout=5)
    assert str(error.value) == (
        f"{remote.url}: expected SHA-256 {expected}, got {BODY_SHA256}; "
        f"the download was deleted and {remote.destination} not written"
    )
    assert list(remote.destination.parent.iterdir()) == []


@pytest.mark.parametrize("honour_range", [True, False], ids=["resumed", "server-ignores-range"])
def test_cut_download_keeps_only_a_part_and_the_rerun_completes_it(server, tmp_path, honour_range):
    remote = remote_body(server, tmp_path)
    half = len(BODY) // 2
    server.cut_after = half
    with pytest.raises(RnnpipeError) as error:
        fetch(remote, timeout=5)
    assert str(error.value) == (
        f"could not download {remote.url}: the connection closed after {half} of {len(BODY)} "
        f"bytes (run again to resume from {remote.part})"
    )
    assert not remote.destination.exists()
    assert remote.part.read_bytes() == BODY[:half]

    server.cut_after, server.honour_range = None, honour_range
    assert fetch(remote, timeout=5) is True
    assert remote.destination.read_bytes() == BODY
    assert not remote.part.exists()
    assert server.requests == [("train.en.gz", None), ("train.en.gz", f"bytes={half}-")]


def test_part_as_long_as_the_file_is_downloaded_again(server, tmp_path):
    remote = remote_body(server, tmp_path)
    remote.part.parent.mkdir()
    remote.part.write_bytes(bytes(len(BODY)))  # e.g. killed between the last byte and the check
    assert fetch(remote, timeout=5) is True
    assert remote.destination.read_bytes() == BODY
    assert not remote.part.exists()
    assert server.requests == [("train.en.gz", f"bytes={len(BODY)}-"), ("train.en.gz", None)]


def test_verified_file_is_skipped_without_a_request(server, tmp_path):
    remote = remote_body(server, tmp_path)
    remote.destination.parent.mkdir()
    remote.destination.write_bytes(BODY)
    assert fetch(remote, timeout=5) is False
    assert server.requests == []


def test_wrong_file_in_place_is_rejected_not_replaced(server, tmp_path):
    remote = remote_body(server, tmp_path)
    remote.destination.parent.mkdir()
    remote.destination.write_bytes(b"something else")
    with pytest.raises(RnnpipeError, match=r"expected SHA-256 .*, got .*delete the file"):
        fetch(remote, timeout=5)
    assert remote.destination.read_bytes() == b"something else"
    assert server.requests == []


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("where", "reason"),
    [("missing-file", "HTTP 404 Not Found"), ("no-server", "Connection refused")],
)
def test_network_errors_name_the_url(server, tmp_path, where, reason):
    base = server.url if where == "missing-file" else f"http://127.0.0.1:{closed_port()}"
    remote = RemoteFile(f"{base}/val.de.gz", BODY_SHA256, tmp_path / "val.de.gz")
    with pytest.raises(RnnpipeError, match=rf"^could not download {remote.url}: .*{reason}"):
        fetch(remote, timeout=5)
    assert list(tmp_path.iterdir()) == []


# -- the command: Multi30k end to end, and files placed by hand ------------------------------
def write_multi30k(split: str, pairs: int) -> dict[str, bytes]:
    """Gzipped ``<split>.en.gz`` / ``<split>.de.gz`` with ``pairs`` aligned lines."""
    return {
        f"{split}.{lang}.gz": gzip.compress(
            "".join(f"{word} {i}\n" for i in range(pairs)).encode(), mtime=0
        )
        for lang, word in (("en", "dog"), ("de", "Hund"))
    }


def use_checksums_of(monkeypatch, files: dict[str, bytes]) -> None:
    """The command checks these files' SHA-256 instead of the real Multi30k's."""
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    monkeypatch.setattr(download, "MULTI30K_SHA256", sums)


def report(output: str) -> list[str]:
    return [" ".join(line.split()) for line in output.splitlines()]


def test_command_downloads_multi30k_then_skips_it(server, tmp_path, monkeypatch, capsys):
    splits = {"train": 3, "val": 2, "test_2016_flickr": 1}
    for split, pairs in splits.items():
        server.files |= write_multi30k(split, pairs)
    use_checksums_of(monkeypatch, server.files)
    command = ["--data-dir", str(tmp_path), "--base-url", server.url, "--timeout", "5"]

    main(command)
    lines = report(capsys.readouterr().out)
    for split, pairs in splits.items():
        assert f"multi30k {split} {pairs} sentence pairs" in lines
    for name, data in server.files.items():
        assert (tmp_path / "multi30k" / name).read_bytes() == data
        assert f"{tmp_path / 'multi30k' / name}: downloaded, SHA-256 verified" in lines
    assert f"conll2003 valid missing: {tmp_path / 'conll2003' / 'valid.txt'}" in lines
    assert len(server.requests) == 6

    main(command)
    lines = report(capsys.readouterr().out)
    assert f"{tmp_path / 'multi30k' / 'val.de.gz'}: already verified" in lines
    assert len(server.requests) == 6


def place(root: Path, files: dict[str, bytes | str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)


CONLL_TRAIN = "-DOCSTART- O\n\nPeter B-PER\nBlack I-PER\nlives O\n\nin O\nParis B-LOC\n"
CONLL_VALID = "Bonn B-LOC\n"
REVIEWS = "Review\tLiked\nGreat food.\t1\nCold soup.\t0\nNice staff.\t1\n"


def test_offline_check_counts_hand_placed_files(tmp_path, monkeypatch, capsys):
    multi30k = write_multi30k("train", 4) | write_multi30k("val", 2)
    use_checksums_of(monkeypatch, multi30k)
    place(tmp_path, {f"multi30k/{name}": data for name, data in multi30k.items()})
    place(
        tmp_path,
        {
            "conll2003/train.txt": CONLL_TRAIN,
            "conll2003/valid.txt": CONLL_VALID,
            "restaurant_reviews/Restaurant_Reviews.tsv": REVIEWS,
        },
    )

    main(["--offline", "--data-dir", str(tmp_path)])
    lines = report(capsys.readouterr().out)
    assert "multi30k train 4 sentence pairs" in lines
    assert "multi30k val 2 sentence pairs" in lines
    assert "conll2003 train 2 sentences, 5 tokens, 4 labels (B-LOC B-PER I-PER O)" in lines
    assert "conll2003 valid 1 sentences, 1 tokens, 1 labels (B-LOC)" in lines
    assert "restaurant_reviews all 3 reviews: 1 negative, 2 positive" in lines
    test_files = [tmp_path / "multi30k" / f"test_2016_flickr.{lang}.gz" for lang in ("en", "de")]
    assert f"multi30k test_2016_flickr missing: {test_files[0]}, {test_files[1]}" in lines
    assert f"conll2003 test missing: {tmp_path / 'conll2003' / 'test.txt'}" in lines
    assert any(line.startswith("To add conll2003") for line in lines)
    assert not any(line.startswith("To add restaurant_reviews") for line in lines)


@pytest.mark.parametrize("broken", ["conll-columns", "review-label", "multi30k-checksum"])
def test_broken_placed_file_fails_with_the_readers_error(tmp_path, monkeypatch, capsys, broken):
    good = write_multi30k("val", 2)
    use_checksums_of(monkeypatch, good)
    files: dict[str, bytes | str] = {"conll2003/train.txt": CONLL_TRAIN}
    if broken == "conll-columns":
        files["conll2003/train.txt"] = "Peter B-PER\nBlack NNP I-PER\n"
        expected = f"{tmp_path / 'conll2003' / 'train.txt'}:2: expected 2 columns like the"
    elif broken == "review-label":
        files["restaurant_reviews/Restaurant_Reviews.tsv"] = REVIEWS + "Fine.\tyes\n"
        where = tmp_path / "restaurant_reviews" / "Restaurant_Reviews.tsv"
        expected = f"{where}:5: expected a label of 0 or 1, got 'yes'"
    else:
        files["multi30k/val.en.gz"] = good["val.en.gz"]
        files["multi30k/val.de.gz"] = gzip.compress(b"Katze 0\nKatze 1\n")
        expected = f"{tmp_path / 'multi30k' / 'val.de.gz'}: expected SHA-256 "
    place(tmp_path, files)

    with pytest.raises(SystemExit) as exit_:
        main(["--offline", "--data-dir", str(tmp_path)])
    assert exit_.value.code == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {expected}")
    assert len(captured.err.splitlines()) == 1
    assert any(
        line.endswith("REJECTED: " + captured.err[7:].strip()) for line in report(captured.out)
    )
