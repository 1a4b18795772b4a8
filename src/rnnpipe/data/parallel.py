"""Line-aligned parallel text (Multi30k's ``<split>.en`` / ``<split>.de``) and its DataModule.

Line n of the source file translates line n of the target file. A split is named by its source
file (``train.en`` or ``train.en.gz``); the target file sits beside it with the target
language's suffix (``train.de`` or ``train.de.gz``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

import lightning as L
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE, WordLevel
from tokenizers.trainers import BpeTrainer, WordLevelTrainer
from torch.utils.data import DataLoader

from rnnpipe.data.batching import ResumableShuffle, make_loader
from rnnpipe.data.text_file import read_lines
from rnnpipe.data.tokenization import BOS, EOS, PAD, UNK, encode_texts, pad_batch
from rnnpipe.errors import DataFormatError

log = logging.getLogger(__name__)

SPECIAL_TOKENS = (PAD, UNK, BOS, EOS)  # ids 0, 1, 2, 3 in both languages
TOKENIZER_KINDS = ("word", "bpe")
GZIP_SUFFIX = ".gz"


# -- reading -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SentencePair:
    source: str
    target: str
    line: int  # the line in both files, for error messages and prediction files


def target_path_for(source_path: str | Path, source_lang: str, target_lang: str) -> Path:
    """``.../train.en.gz`` -> ``.../train.de.gz``: the target file beside a source file."""
    source_path = Path(source_path)
    name = source_path.name
    compressed = name.endswith(GZIP_SUFFIX)
    stem = name.removesuffix(GZIP_SUFFIX)
    if not stem.endswith(f".{source_lang}"):
        raise DataFormatError(
            source_path, None, f"a file named <split>.{source_lang}[.gz]", f"the name {name!r}"
        )
    target = stem.removesuffix(f".{source_lang}") + f".{target_lang}"
    return source_path.with_name(target + (GZIP_SUFFIX if compressed else ""))


def read_parallel(source_path: str | Path, target_path: str | Path) -> list[SentencePair]:
    """Pair line n of ``source_path`` with line n of ``target_path`` (UTF-8, plain or .gz).

    A missing or empty sentence on either side, or files of different lengths, raise
    :class:`DataFormatError` naming the file, the line and the file it should align with.
    """
    pairs = []
    lines = zip_longest(read_lines(source_path), read_lines(target_path))
    for source_line, target_line in lines:
        if source_line is None or target_line is None:
            short, long_ = (
                (source_path, target_path) if source_line is None else (target_path, source_path)
            )
            number = (target_line or source_line)[0]
            raise DataFormatError(
                short, number, f"a line aligned with {long_}:{number}", "end of file"
            )
        number, source = source_line
        _, target = target_line
        for path, other, text in (
            (source_path, target_path, source),
            (target_path, source_path, target),
        ):
            if not text.strip():
                raise DataFormatError(
                    path, number, f"a sentence aligned with {other}:{number}", "an empty line"
                )
        pairs.append(SentencePair(source=source.strip(), target=target.strip(), line=number))
    if not pairs:
        raise DataFormatError(source_path, None, "at least one sentence pair", "empty files")
    return pairs


# -- tokenizers --------------------------------------------------------------------------------
def fit_tokenizer(
    texts: list[str],
    kind: str = "word",
    lowercase: bool = True,
    min_frequency: int = 1,
    vocab_size: int = 8000,
) -> Tokenizer:
    """Fit one language's tokenizer: whole words (``word``) or byte-pair subwords (``bpe``).

    Both split punctuation off and mark each word start with ``▁`` (SentencePiece's metaspace),
    so decoding restores the spacing exactly: ``decode(encode("a t-shirt, red"))`` gives back
    ``"a t-shirt, red"`` (lowercased when ``lowercase``). That detokenised text is what is scored.
    ``vocab_size`` applies to BPE; ``min_frequency`` to both. Special tokens take ids 0-3.
    """
    if kind not in TOKENIZER_KINDS:
        raise ValueError(f"tokenizer kind must be one of {TOKENIZER_KINDS}, got {kind!r}")
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
    if kind == "word":
        tokenizer = Tokenizer(WordLevel(unk_token=UNK))
        trainer = WordLevelTrainer(min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS))
    else:
        tokenizer = Tokenizer(BPE(unk_token=UNK))
        trainer = BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(SPECIAL_TOKENS),
            show_progress=False,
        )
    steps = [normalizers.NFKC(), normalizers.Replace(Regex(r"\s+"), " "), normalizers.Strip()]
    tokenizer.normalizer = normalizers.Sequence(
        steps + ([normalizers.Lowercase()] if lowercase else [])
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation(behavior="isolated")]
    )
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


# -- the DataModule ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    """A sentence pair and its token ids (no special tokens)."""

    pair: SentencePair
    source_ids: list[int]
    target_ids: list[int]


class ParallelDataModule(L.LightningDataModule):
    """Parallel train/val/test files, one tokenizer per language fitted on train, padded batches.

    ``test_path`` null tests on the val files. Training pairs with more than ``max_length``
    tokens on either side are dropped (and how many is logged); val and test are never filtered.
    Once fitted (or restored with :meth:`load_state_dict`), ``setup("test")`` with a
    ``test_path`` reads only that split: how a trained model is scored on a new file.

    Batches are dicts: ``source (B, S)``, ``source_lengths (B,)``, ``target_in (B, T)`` (``<s>``
    then the target), ``target_out (B, T)`` (the target then ``</s>``), ``target_lengths (B,)``,
    and the raw ``source_texts``, ``target_texts`` and source ``lines`` for reports.
    """

    def __init__(
        self,
        train_path: str,
        val_path: str,
        test_path: str | None = None,
        source_lang: str = "en",
        target_lang: str = "de",
        tokenizer: str = "word",
        lowercase: bool = True,
        min_frequency: int = 1,
        vocab_size: int = 8000,
        max_length: int | None = 50,
        seed: int = 42,
        batch_size: int = 64,
        num_workers: int = 0,
    ):
        super().__init__()
        if tokenizer not in TOKENIZER_KINDS:
            raise ValueError(f"tokenizer must be one of {TOKENIZER_KINDS}, got {tokenizer!r}")
        if max_length is not None and max_length < 1:
            raise ValueError(
                f"max_length must be a positive number of tokens or null, got {max_length}"
            )
        self.paths = {"train": train_path, "val": val_path, "test": test_path or val_path}
        self.test_path = test_path
        self.source_lang = source_lang
        self.target_lang = target_lang
        self.tokenizer_kind = tokenizer
        self.lowercase = lowercase
        self.min_frequency = min_frequency
        self.vocab_size = vocab_size
        self.max_length = max_length
        self.seed = seed
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.tokenizers: dict[str, Tokenizer] = {}
        self.splits: dict[str, list[Example]] = {}
        self.train_sampler: ResumableShuffle | None = None  # replayable order: exact resume
        self.dropped_pairs = 0

    # -- fitted state: what a trained model needs to read new text ---------------------------
    def state_dict(self) -> dict[str, Any]:
        if not self.tokenizers:
            return {}
        return {
            "tokenizers": {name: tok.to_str() for name, tok in self.tokenizers.items()},
            "languages": {"source": self.source_lang, "target": self.target_lang},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state:
            self.tokenizers = {
                name: Tokenizer.from_str(text) for name, text in state["tokenizers"].items()
            }

    def input_files(self) -> dict[str, Path]:
        """The files ``setup`` read, by role (``train_en``, ``train_de``, ...): each MLflow run
        records them."""
        if self.tokenizers and "train" not in self.splits and self.test_path:
            splits = ["test"]
        else:
            splits = ["train", "val"] + (["test"] if self.test_path else [])
        files = {}
        for split in splits:
            source = Path(self.paths[split])
            files[f"{split}_{self.source_lang}"] = source
            files[f"{split}_{self.target_lang}"] = target_path_for(
                source, self.source_lang, self.target_lang
            )
        return files

    def model_kwargs(self) -> dict[str, Any]:
        """Vocabulary sizes and the special ids (the same in both languages)."""
        assert self.tokenizers, "call setup('fit') first"
        source, target = self.tokenizers["source"], self.tokenizers["target"]
        return {
            "source_vocab_size": source.get_vocab_size(),
            "target_vocab_size": target.get_vocab_size(),
            "pad_id": target.token_to_id(PAD),
            "bos_id": target.token_to_id(BOS),
            "eos_id": target.token_to_id(EOS),
        }

    # -- Lightning hooks ---------------------------------------------------------------------
    def read_split(self, split: str) -> list[SentencePair]:
        source_path = self.paths[split]
        return read_parallel(
            source_path, target_path_for(source_path, self.source_lang, self.target_lang)
        )

    def setup(self, stage: str | None = None) -> None:
        if self.tokenizers and stage == "test" and self.test_path:
            self.splits["test"] = self.encode(self.read_split("test"))
            return
        if "train" in self.splits:
            return
        train = self.read_split("train")
        if not self.tokenizers:
            self.tokenizers = {
                side: fit_tokenizer(
                    [getattr(pair, side) for pair in train],
                    kind=self.tokenizer_kind,
                    lowercase=self.lowercase,
                    min_frequency=self.min_frequency,
                    vocab_size=self.vocab_size,
                )
                for side in ("source", "target")
            }
        self.splits["train"] = self.drop_long(self.encode(train))
        self.train_sampler = ResumableShuffle(len(self.splits["train"]), self.seed, self.batch_size)
        self.splits["val"] = self.encode(self.read_split("val"))
        self.splits["test"] = (
            self.encode(self.read_split("test")) if self.test_path else self.splits["val"]
        )

    def encode(self, pairs: list[SentencePair]) -> list[Example]:
        source_ids = encode_texts(self.tokenizers["source"], [p.source for p in pairs])
        target_ids = encode_texts(self.tokenizers["target"], [p.target for p in pairs])
        return [
            Example(pair, source, target)
            for pair, source, target in zip(pairs, source_ids, target_ids, strict=True)
        ]

    def drop_long(self, examples: list[Example]) -> list[Example]:
        """Training pairs with at most ``max_length`` tokens on each side; logs how many went."""
        if self.max_length is None:
            return examples
        kept = [
            e
            for e in examples
            if len(e.source_ids) <= self.max_length and len(e.target_ids) <= self.max_length
        ]
        self.dropped_pairs = len(examples) - len(kept)
        log.info(
            "max_length=%d: dropped %d of %d training pairs (%s)",
            self.max_length,
            self.dropped_pairs,
            len(examples),
            self.paths["train"],
        )
        if not kept:
            raise DataFormatError(
                self.paths["train"], None, f"pairs of at most {self.max_length} tokens", "none"
            )
        return kept

    def collate(self, examples: list[Example]) -> dict[str, Any]:
        bos, eos = (
            self.tokenizers["target"].token_to_id(BOS),
            self.tokenizers["target"].token_to_id(EOS),
        )
        pad = self.tokenizers["target"].token_to_id(PAD)
        source, source_lengths = pad_batch([e.source_ids for e in examples], pad_id=pad)
        target_in, target_lengths = pad_batch([[bos, *e.target_ids] for e in examples], pad_id=pad)
        target_out, _ = pad_batch([[*e.target_ids, eos] for e in examples], pad_id=pad)
        return {
            "source": source,
            "source_lengths": source_lengths,
            "target_in": target_in,
            "target_out": target_out,
            "target_lengths": target_lengths,
            "source_texts": [e.pair.source for e in examples],
            "target_texts": [e.pair.target for e in examples],
            "lines": [e.pair.line for e in examples],
        }

    def _loader(self, split: str) -> DataLoader:
        return make_loader(
            self.splits[split],
            self.collate,
            self.seed,
            self.num_workers,
            batch_size=self.batch_size,
            sampler=self.train_sampler if split == "train" else None,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
