"""``borel_lib.notebook.show_source``: the library code shown beside the paper's equations in notebooks
01, 04 and 05 (issue 34), so nothing is defined twice."""

import re
import types

import pytest

from borel_lib import identifiability as idf
from borel_lib.agents import EnsembleDQN
from borel_lib.notebook import show_source, source_text
from borel_lib.state_relabel import hyper_state


def test_source_text_is_the_function_with_its_relative_location():
    text = source_text(hyper_state)
    first, second = text.splitlines()[:2]
    assert first.startswith("# borel_lib.state_relabel.hyper_state  (borel_lib/state_relabel.py:")
    assert re.search(r":\d+\)$", first)
    assert second.startswith("def hyper_state(")
    assert "np.concatenate(parts, -1)" in text
    assert not re.search(r"/(root|home|tmp|work)/", text), "a machine path would end up in the notebooks"


def test_private_helpers_follow_the_public_function():
    with_helper = source_text(idf.check_identifiability)
    assert "def check_identifiability(" in with_helper and "def _report(" in with_helper
    assert with_helper.index("def check_identifiability(") < with_helper.index("def _report(")
    alone = source_text(idf.check_identifiability, helpers=False)
    assert "def _report(" not in alone and "def check_identifiability(" in alone


def test_methods_and_properties_are_dedented():
    text = source_text(EnsembleDQN.update)
    assert "\ndef update(self" in text and "target = batch[\"rewards\"]" in text
    prop = source_text(idf.IdentifiabilityReport.sufficient_condition_holds)
    assert "\n@property\ndef sufficient_condition_holds(self)" in prop


def test_rejects_what_has_no_source():
    with pytest.raises(TypeError, match="expected a function"):
        source_text(3)
    with pytest.raises(TypeError, match="at least one"):
        show_source()


def test_prints_outside_a_kernel(capsys):
    show_source(hyper_state, idf.overlapping_pairs)
    out = capsys.readouterr().out
    assert "def hyper_state(" in out and "def overlapping_pairs(" in out


def test_displays_highlighted_markdown_in_a_kernel(monkeypatch):
    import IPython
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace(kernel=object()))
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    show_source(hyper_state)
    (bundle, raw), = shown
    assert raw and bundle["text/markdown"].startswith("```python\n# borel_lib.state_relabel.hyper_state")
    assert bundle["text/markdown"].rstrip().endswith("```")
    assert bundle["text/plain"] == source_text(hyper_state)
