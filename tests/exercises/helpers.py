"""What the tests of every topic's checkers share: a stub answer, a layer class with another
backward pass, and the two assertions every checker is held to."""

import pytest

from cnnlib.exercises import ExerciseError


def stub(*args, **kwargs):
    """An exercise not written yet, as the student edition leaves it."""
    raise NotImplementedError("the hint for this exercise")


def layer(reference, backward):
    """A subclass of the layer class ``reference`` whose backward pass is ``backward``."""
    class Wrong(reference):
        pass
    Wrong.backward = backward
    return Wrong


def returns_the_answer(capsys, checker, answer, return_the_function):
    """``checker`` accepts ``answer``: it prints one line ``correct: ...`` and returns the answer
    (a class, or a function a later cell calls: one of ``return_the_function``), else None."""
    returned = checker(answer)
    returns = isinstance(answer, type) or checker in return_the_function
    assert returned is (answer if returns else None)
    out = capsys.readouterr().out
    assert out.startswith("correct: ") and out.count("\n") == 1


def names_the_mistake(capsys, checker, wrong, message):
    """``checker`` rejects ``wrong`` with an ExerciseError (an AssertionError) whose message holds
    ``message``, and prints no ``correct:`` line."""
    with pytest.raises(ExerciseError) as info:
        checker(wrong)
    assert message in str(info.value)
    assert isinstance(info.value, AssertionError)
    assert "correct:" not in capsys.readouterr().out


def checker_tests(references, wrong, return_the_function=()):
    """The two tests of a topic's checkers, for its module to bind to test_* names: every
    ``(checker, answer)`` of ``references`` is accepted, every ``(checker, wrong answer, message)``
    of ``wrong`` is rejected with that message."""
    @pytest.mark.parametrize("checker, answer", references,
                             ids=lambda v: getattr(v, "__name__", ""))
    def accepts(capsys, checker, answer):
        returns_the_answer(capsys, checker, answer, return_the_function)

    @pytest.mark.parametrize("checker, answer, message", wrong,
                             ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(wrong)])
    def names(capsys, checker, answer, message):
        names_the_mistake(capsys, checker, answer, message)
    return accepts, names
