"""The fast UTF-8 check of the encoding pass agrees with Python's decoder, wherever the chunks
cut the text (inside a character too) and whatever the bytes."""

from __future__ import annotations

import codecs
import itertools
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federate.errors import InputError
from federate.readers.csv import _Utf8Check, inspect_file


def _python_says(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check_says(data: bytes, cuts: list[int]) -> bool:
    check = _Utf8Check()
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    try:
        for lo, hi in itertools.pairwise(bounds):
            check.decode(data[lo:hi])
        check.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)


@settings(max_examples=400, deadline=None)
@given(TEXT, st.lists(st.integers(0, 300), max_size=6))
def test_valid_text_passes_wherever_it_is_cut(text: str, cuts: list[int]) -> None:
    assert _check_says(text.encode("utf-8"), cuts)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40), st.lists(st.integers(0, 60), max_size=5))
def test_any_bytes_judged_as_python_judges_them(data: bytes, cuts: list[int]) -> None:
    assert _check_says(data, cuts) == _python_says(data)


def test_known_invalid_sequences() -> None:
    for bad in (b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"a\x80", b"\xe2\x82"):
        assert not _check_says(bad, [])
        assert not _check_says(bad, [1])


def test_the_failing_byte_is_still_named(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    body = "città;€\n".encode() * 200_000  # longer than one chunk
    path.write_bytes(body + b"bad \xff here\n")
    facts = inspect_file(path, ("utf-8", "cp1252"), "x.csv")
    assert facts.encoding == "cp1252"
    decoder = codecs.getincrementaldecoder("utf-8")()
    decoder.decode(body)  # the body itself is fine
    with pytest.raises(InputError, match=f"utf-8 fails at byte {len(body) + 4}"):
        inspect_file(path, ("utf-8",), "x.csv")


def test_a_failure_at_the_first_byte_is_named_as_byte_zero(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("Ålder;x\n1;2\n".encode("cp1252"))
    with pytest.raises(InputError, match="utf-8 fails at byte 0"):
        inspect_file(path, ("utf-8",), "x.csv")


def test_prepare_inspects_each_file_once_and_reports_the_first_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import federate.readers.csv as csv_module
    from federate.readers.base import Source
    from federate.readers.csv import CsvReader

    good, bad1, bad2 = (tmp_path / n for n in ("good.csv", "bad1.csv", "bad2.csv"))
    good.write_text("a;b\n1;2\n", encoding="utf-8")
    bad1.write_bytes("Ålder;x\n".encode("cp1252"))
    bad2.write_bytes("x;Ø\n".encode("cp1252"))
    inspected: list[str] = []
    real = csv_module.inspect_file

    def counting(path: Path, *args: object, **kwargs: object) -> object:
        inspected.append(path.name)
        time.sleep(0.05)  # two inspections of one file would overlap, not hit the cache
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(csv_module, "inspect_file", counting)
    reader = CsvReader(delimiter=";", encodings=("utf-8",))
    reader.prepare([Source(good, "good.csv"), Source(good, "good.csv")])
    assert inspected == ["good.csv"]  # listed twice, inspected once; then cached
    reader.prepare([Source(good, "good.csv")])
    assert inspected == ["good.csv"]
    with pytest.raises(InputError) as caught:
        reader.prepare([Source(bad1, "bad1.csv"), Source(bad2, "bad2.csv")])
    assert caught.value.where is not None and caught.value.where.file == "bad1.csv"
