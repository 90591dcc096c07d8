import numpy as np
import pytest

from unembed import metrics as m


def test_identical_text_scores_perfectly():
    refs = ["The committee approved the budget on Tuesday.", "She walked to the old mill by the river."]
    assert m.bleu(refs, refs) == pytest.approx(100.0)
    assert m.token_f1(refs, refs) == 1.0
    assert m.exact_match(refs, refs) == 1.0


def test_disjoint_text_scores_zero():
    assert m.bleu(["alpha beta gamma delta"], ["one two three four"]) == 0.0
    assert m.token_f1(["alpha beta"], ["one two"]) == 0.0
    assert m.exact_match(["alpha"], ["one"]) == 0.0


def test_token_f1_known_value():
    # hyp has 3 words, ref 4, 3 shared: F1 = 2*3/(3+4)
    assert m.token_f1_pair("the cat sat", "the cat sat down") == pytest.approx(6 / 7)
    # punctuation is its own token (13a), and counts are multisets
    assert m.words("Hello, world!") == ["Hello", ",", "world", "!"]
    assert m.token_f1_pair("a a b", "a b b") == pytest.approx(2 * 2 / 6)


def test_exact_match_normalises_whitespace_only():
    assert m.exact_match(["  the  cat "], ["the cat"]) == 1.0
    assert m.exact_match(["The cat"], ["the cat"]) == 0.0


def test_bleu_known_value():
    # one 4-gram-long sentence, hyp drops the last word: brevity penalty and n-gram precisions
    score = m.bleu(["the quick brown fox jumps"], ["the quick brown fox jumps over"])
    bp = np.exp(1 - 6 / 5)
    assert score == pytest.approx(100 * bp, abs=1e-6)


def test_cosine_mean_and_shape_check():
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    b = np.array([[1.0, 0.0], [1.0, 0.0]])
    assert m.cosine(a, b) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        m.cosines(a, b[:1])


def test_entity_recovery():
    ref = "Email jane.doe@example.com or call 555-123-4567 before 5 May; Maria Lopez paid 42 dollars."
    ents = m.entities(ref)
    assert ents["emails"] == {"jane.doe@example.com"}
    assert ents["phones"] == {"555-123-4567"}
    assert {"5", "42"} <= ents["numbers"]
    assert "Maria Lopez" in ents["names"]
    hyp = "Contact jane.doe@example.com; Maria Lopez paid 40 dollars."
    assert m.recovery([hyp], [ref], "emails") == 1.0
    assert m.recovery([hyp], [ref], "phones") == 0.0
    assert m.recovery([hyp], [ref], "numbers") == 0.0
    assert m.recovery(["x"], ["no entities here at all"], "emails") is None


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        m.bleu(["a"], ["a", "b"])
