"""Streamlit pieces every page shares: the reports directory, run pickers, error display.

Imported only by the pages (it imports streamlit); the logic they call lives in the
streamlit-free modules beside this one so tests can check it directly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from audit.dashboard import data
from audit.dashboard.paths import find_runs, reports_root, resolve_run
from audit.errors import UserError
from audit.store.frames import Frames


def root() -> Path:
    return reports_root()


def page_header(title: str, caption: str) -> None:
    st.title(title)
    st.caption(caption)


def stop_with(message: str, kind: str = "info") -> None:
    getattr(st, kind)(message)
    st.stop()


def _query_value(param: str) -> str | None:
    value = st.query_params.get(param)
    return str(value) if value is not None else None


def pick_run(label: str = "Run", param: str = "run", default: int = 0) -> tuple[str, Path]:
    """A sidebar run selector tied to the `?<param>=` query parameter.

    The query parameter (from a link or the address bar) is checked by `resolve_run` before
    anything is opened: a name that leaves the reports directory is refused and the first run
    is shown instead."""
    base = root()
    names = find_runs(base)
    if not names:
        stop_with(
            f"No runs under {base}. Make one with `t2i-audit run SPEC --out {base}`, "
            "or start the dashboard on another folder: `t2i-audit dashboard DIR`."
        )
    wanted = _query_value(param)
    if wanted is not None and wanted not in names:
        try:
            resolve_run(base, wanted)
            names = [*names, wanted]  # a valid run deeper than the listing goes
        except UserError as exc:
            st.error(f"Ignored ?{param}=: {exc.problem}")
            wanted = None
    index = names.index(wanted) if wanted in names else min(default, len(names) - 1)
    choice = st.sidebar.selectbox(label, names, index=index)
    if st.query_params.get(param) != choice:
        st.query_params[param] = choice
    try:
        return choice, resolve_run(base, choice)
    except UserError as exc:  # the folder vanished since it was listed
        stop_with(str(exc), "error")
        raise  # unreachable: st.stop() raises


def load(run_dir: Path) -> Frames:
    try:
        return data.frames(run_dir)
    except UserError as exc:
        stop_with(str(exc), "error")
        raise
    except sqlite3.OperationalError:
        # A sweep that has just started may not have written its tables yet.
        stop_with("This run is still being set up; it shows up here within seconds.")
        raise


def multiselect_filter(label: str, options: Sequence[Any], key: str) -> list[Any]:
    """A sidebar multiselect where choosing nothing means everything."""
    if len(options) <= 1:
        return list(options)
    chosen = st.sidebar.multiselect(label, list(options), key=key, placeholder="all")
    return chosen or list(options)


def show_run_caption(name: str, frames: Frames) -> None:
    info = frames.run_info
    status = info.get("status", "")
    st.caption(
        f"run **{name}** · {len(frames.images)} images · {frames.images['model'].nunique()} "
        f"model(s) · status {status or 'unknown'} · reports directory {root()}"
    )
