"""``hint_for``: the lost-axis verdict (``checks.lost_axis``) for a learner's function that raises,
"right" meaning a reference's answer, as the harness asks it."""

import torch
from transformer_course.checks import failure
from transformer_course.checks.lost_axis import lost_axis_hint


def hint_for(fn, reference, *case):
    """lost_axis's hint for ``fn`` on ``case``, "right" meaning ``reference``'s answer."""

    def fixed(keep):
        outcome = failure.run(fn, case, None, keep)
        if outcome is None or outcome.failure is not None:
            return None if outcome is None else outcome.failure
        return torch.allclose(outcome.value, reference(*case), atol=1e-6)

    try:
        fn(*case)
    except (RuntimeError, IndexError) as err:
        return lost_axis_hint(err, lambda: failure.rerun(fn, case), fixed)
    raise AssertionError("fn must raise")
