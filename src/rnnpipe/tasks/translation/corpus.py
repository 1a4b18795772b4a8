"""Line-aligned parallel text (Multi30k's ``<split>.en`` / ``<split>.de``) and its tokenizers.

Line n of the source file translates line n of the target file. A split is named by its source
file (``train.en`` or ``train.en.gz``); the target file sits beside it with the target
language's suffix (``train.de`` or ``train.de.gz``).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
from tokenizers.models import BPE, WordLevel
from tokenizers.trainers import BpeTrainer, WordLevelTrainer

from rnnpipe.data.text_file import read_lines
from rnnpipe.data.tokenization import SEQUENCE_SPECIAL_TOKENS, UNK
from rnnpipe.errors import DataFormatError

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
    ``vocab_size`` applies to BPE; ``min_frequency`` to both. Special tokens take ids 0-3, in both
    languages.
    """
    if kind not in TOKENIZER_KINDS:
        raise ValueError(f"tokenizer kind must be one of {TOKENIZER_KINDS}, got {kind!r}")
    if min_frequency < 1:
        raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
    if kind == "word":
        tokenizer = Tokenizer(WordLevel(unk_token=UNK))
        trainer = WordLevelTrainer(
            min_frequency=min_frequency, special_tokens=list(SEQUENCE_SPECIAL_TOKENS)
        )
    else:
        tokenizer = Tokenizer(BPE(unk_token=UNK))
        trainer = BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=list(SEQUENCE_SPECIAL_TOKENS),
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
