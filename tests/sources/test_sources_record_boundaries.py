"""The vectorised splitter agrees with the grammar splitter wherever it answers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sources.record_boundaries import (
    first_record_end,
    plain_cut,
    split_by_grammar,
    split_by_parity,
)


def _records(block: bytes, at_eof: bool = True) -> list[tuple[bytes, int]]:
    spans = split_by_parity(block, ",", at_eof)
    assert spans is not None
    return [
        (block[s:e], int(line))
        for s, e, line in zip(spans.starts, spans.ends, spans.lines, strict=True)
    ]


def test_parity_split_with_quotes_crlf_and_blank_lines() -> None:
    block = b'a,"x\ny"\r\n\r\nb,"""q"""\n\nc,d'
    assert _records(block) == [(b'a,"x\ny"', 0), (b'b,"""q"""', 3), (b"c,d", 5)]


def test_parity_split_keeps_an_unfinished_record_for_later() -> None:
    spans = split_by_parity(b'a,b\nc,"d\ne', ",", at_eof=False)
    assert spans is not None
    assert spans.consumed == 4
    assert spans.newlines == 1
    assert not spans.multiline


def test_misplaced_quote_makes_parity_give_up() -> None:
    assert split_by_parity(b"a,5'11\"\nb,c\n", ",", at_eof=True) is None
    spans = split_by_grammar(b"a,5'11\"\nb,c\n", ",", at_eof=True)
    assert spans.starts.tolist() == [0, 8]
    assert spans.ends.tolist() == [7, 11]


def test_grammar_split_waits_for_a_closing_quote() -> None:
    spans = split_by_grammar(b'a,b\n"open\nstill', ",", at_eof=False)
    assert spans.consumed == 4
    assert first_record_end(b'"open\nstill', ",", at_eof=False) is None
    assert first_record_end(b'"a\nb",c\r\nd', ",", at_eof=False) == (7, 9)


alphabet = st.sampled_from([b"a", b",", b'"', b"\n", b"\r\n", b";"])


@given(st.lists(alphabet, max_size=40), st.booleans())
def test_parity_and_grammar_agree_when_parity_answers(parts: list[bytes], at_eof: bool) -> None:
    block = b"".join(parts)
    parity = split_by_parity(block, ",", at_eof)
    if parity is None:
        return
    grammar = split_by_grammar(block, ",", at_eof)
    assert parity.starts.tolist() == grammar.starts.tolist()
    assert parity.ends.tolist() == grammar.ends.tolist()
    assert parity.lines.tolist() == grammar.lines.tolist()
    assert (parity.consumed, parity.newlines) == (grammar.consumed, grammar.newlines)
    assert parity.multiline == grammar.multiline


plain_alphabet = st.sampled_from([b"a", b",", b"\n", b"\r\n", b"\r", b" "])


@given(st.lists(plain_alphabet, max_size=40), st.booleans())
def test_a_plain_cut_counts_as_the_parity_split_does(parts: list[bytes], at_eof: bool) -> None:
    block = b"".join(parts)
    cut = plain_cut(block, at_eof)
    if cut is None:
        return
    spans = split_by_parity(block, ",", at_eof)
    assert spans is not None
    assert cut == (spans.consumed, spans.newlines, len(spans))
    assert spans.lines.tolist() == list(range(len(spans)))  # the nth record on the nth line


def test_quotes_and_blank_lines_are_no_plain_blocks() -> None:
    assert plain_cut(b'a,"b"\nc,d\n', at_eof=True) is None
    assert plain_cut(b"a,b\n\nc,d\n", at_eof=True) is None
    assert plain_cut(b"a,b\r\n\r\nc,d\r\n", at_eof=True) is None
    assert plain_cut(b"\na,b\n", at_eof=True) is None
    assert plain_cut(b"a,b\nc,d\ne", at_eof=False) == (8, 2, 2)
    assert plain_cut(b"a,b\nc,d\ne", at_eof=True) == (9, 2, 3)
