"""A real notebook, run cell by cell in a real IPython kernel (nbclient + ipykernel), against
the local mock server: the sync client and `evaluate_frame` called inside the kernel's running
event loop, the async client awaited at the top level, the notebook progress bars, and not one
warning or line on stderr.

The kernel is this interpreter (a kernelspec the test writes into its own JUPYTER_PATH), so it
imports this checkout's composo; the server runs in the test process and reaches the kernel
through COMPOSO_BASE_URL and COMPOSO_API_KEY.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from composo import MockServer

pytestmark = pytest.mark.e2e

nbformat = pytest.importorskip("nbformat", reason="needs nbformat (in the dev extra)")
nbclient = pytest.importorskip("nbclient", reason="needs nbclient (in the dev extra)")
traitlets_config = pytest.importorskip("traitlets.config", reason="needs nbclient (dev extra)")
pytest.importorskip("ipykernel", reason="needs ipykernel (in the dev extra)")
pytest.importorskip("pandas", reason="needs the pandas extra")

KERNEL = "composo-test-python"
ROWS = 20

CELLS = [
    # Every warning from here on is recorded; the last cell reports them.
    """
import asyncio, json, sys, warnings
_recorder = warnings.catch_warnings(record=True)
_warnings = _recorder.__enter__()
warnings.simplefilter("always")
import pandas as pd
import composo
CRITERION = "Reward answers that give a delivery date"
def conversation(i):
    return [{"role": "user", "content": f"Where is order {i}?"},
            {"role": "assistant", "content": f"Order {i} arrives on day {i % 7}."}]
df = pd.DataFrame({"messages": [conversation(i) for i in range(__ROWS__)]})
print(json.dumps({"loop_running": asyncio.get_running_loop().is_running()}))
""",
    # The sync client, inside the running loop.
    """
with composo.Composo() as client:
    single = client.evaluate(conversation(0), CRITERION)
    batch = client.evaluate_batch(({"messages": conversation(i)} for i in range(__ROWS__)),
                                  CRITERION).collect()
print(json.dumps({"sync_score": single.score, "sync_batch": [r.score for r in batch]}))
""",
    # The sync helper, with its default progress: tqdm's widget (tqdm and ipywidgets are in).
    """
out = composo.evaluate_frame(df, CRITERION)
print(json.dumps({"frame": out["score"].tolist()}))
""",
    # Without ipywidgets, the plain text bar, redrawn in place through display updates.
    """
sys.modules["ipywidgets"] = None
try:
    out = composo.evaluate_frame(df, CRITERION, progress=True)
finally:
    del sys.modules["ipywidgets"]
print(json.dumps({"frame_text_bar": out["score"].tolist()}))
""",
    # The async client and helper, awaited at the top level of the notebook.
    """
async with composo.AsyncComposo() as aclient:
    asingle = await aclient.evaluate(conversation(0), CRITERION)
    aout = await composo.aevaluate_frame(df, CRITERION, client=aclient, concurrency=4,
                                         progress=False)
print(json.dumps({"async_score": asingle.score, "async_frame": aout["score"].tolist()}))
""",
    # The README's example: a mock server started inside the notebook.
    """
with composo.MockServer() as server, composo.Composo(base_url=server.base_url,
                                                     api_key="k") as local_client:
    local = composo.evaluate_frame(df, CRITERION, client=local_client, progress=False)
print(json.dumps({"in_kernel_mock": local["score"].tolist()}))
""",
    """
_recorder.__exit__(None, None, None)
print(json.dumps({"warnings": [f"{w.category.__name__}: {w.message}" for w in _warnings]}))
""",
]


def _kernel_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernelspec for this interpreter, and Jupyter/IPython state kept under tmp_path."""
    jupyter = tmp_path / "jupyter"
    spec = jupyter / "kernels" / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher"]
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [*argv, "-f", "{connection_file}"],
                "display_name": "composo test (this interpreter)",
                "language": "python",
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))


def _outputs(cell: Any, output_type: str) -> list[Any]:
    return [output for output in cell.outputs if output.output_type == output_type]


def _printed(cell: Any) -> dict[str, Any]:
    text = "".join(output.text for output in _outputs(cell, "stream") if output.name == "stdout")
    result: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    return result


def test_a_notebook_uses_the_sync_and_async_clients_without_warnings(
    composo_mock: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kernel_environment(tmp_path, monkeypatch)
    monkeypatch.setenv("COMPOSO_BASE_URL", composo_mock.base_url)
    monkeypatch.setenv("COMPOSO_API_KEY", "notebook-key")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(code.replace("__ROWS__", str(ROWS))) for code in CELLS
    ]
    # Unix sockets rather than TCP on loopback, of which the kernel warns that it is
    # unencrypted; the client still starts, owns and shuts down the kernel.
    ipc = {"transport": "ipc", "ip": str(tmp_path / "kernel-ipc")}
    client = nbclient.NotebookClient(
        notebook,
        config=traitlets_config.Config({"KernelManager": ipc}),
        kernel_name=KERNEL,
        timeout=300,
        startup_timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    cells = notebook.cells

    for cell in cells:
        assert _outputs(cell, "error") == []
        assert [o.text for o in _outputs(cell, "stream") if o.name == "stderr"] == []
    assert _printed(cells[0]) == {"loop_running": True}
    sync = _printed(cells[1])
    expected = sync["sync_batch"]
    assert len(expected) == ROWS
    assert len(set(expected)) > 1
    assert sync["sync_score"] == expected[0]
    assert _printed(cells[2]) == {"frame": expected}
    assert _printed(cells[3]) == {"frame_text_bar": expected}
    assert _printed(cells[4]) == {"async_score": expected[0], "async_frame": expected}
    assert _printed(cells[5]) == {"in_kernel_mock": expected}
    assert _printed(cells[6]) == {"warnings": []}

    # The widget bar: one ipywidgets view, and nothing drawn as text.
    widget_views = [
        o
        for o in _outputs(cells[2], "display_data")
        if "application/vnd.jupyter.widget-view+json" in o.data
    ]
    assert len(widget_views) == 1
    # The text bar: one display, redrawn in place to its final state.
    (text_bar,) = _outputs(cells[3], "display_data")
    final = text_bar.data["text/plain"]
    assert final.startswith("[" + "#" * 30 + "]")
    assert f"{ROWS}/{ROWS} done, 0 failed" in final
    assert composo_mock.counters.by_status == {200: ROWS * 4 + 2}
