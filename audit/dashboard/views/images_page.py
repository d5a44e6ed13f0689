"""Images: one prompt across cells and seeds with each image's scores; failure filters; the
full image with its request on a click."""

from __future__ import annotations

import streamlit as st

from audit.dashboard import images as logic
from audit.dashboard import tables, ui
from audit.dashboard.paths import safe_picture

CELLS_PER_PAGE = 8

name, run_dir = ui.pick_run()
ui.page_header("Images", "One prompt across cells and seeds; click Open for the full image.")
frames = ui.load(run_dir)
ui.show_run_caption(name, frames)
images = frames.images
if images.empty:
    ui.stop_with("This run has no images yet.")
scores = logic.score_columns(images, frames.catalog)

st.sidebar.markdown("**Show only failures**")
counts = logic.failure_counts(images)
selected = [
    label
    for label, count in counts.items()
    if st.sidebar.checkbox(
        f"{label} ({count})", key=f"fail_{label}", help=logic.BY_LABEL[label].help
    )
]
missing = [f.label for f in logic.FAILURES if f.label not in counts]
if missing:
    st.sidebar.caption("Not measured in this run: " + ", ".join(missing))
models = ui.multiselect_filter("Model", sorted(images["model"].astype(str).unique()), "im_models")
shown = images[logic.failing(images, selected) & images["model"].astype(str).isin(models)]

prompt_table = logic.prompts(shown)
if prompt_table.empty:
    ui.stop_with("No image matches these filters.")
ids = prompt_table["prompt_id"].astype(str).tolist()
labels = {
    r["prompt_id"]: f"{r['prompt_id']} — {r['prompt'][:70]} ({r['images']} images)"
    for r in prompt_table.to_dict("records")
}
wanted = st.query_params.get("prompt")
prompt_id = st.selectbox(
    "Prompt",
    ids,
    index=ids.index(wanted) if wanted in ids else 0,
    format_func=lambda pid: labels[pid],
)
if st.query_params.get("prompt") != prompt_id:
    st.query_params["prompt"] = prompt_id
if selected:
    st.caption(f"{len(shown)} of {len(images)} images fail: {', '.join(selected)}")

by_key = {str(k): i for i, k in enumerate(images["key"])}


def open_image(key: str) -> None:
    st.session_state["image_key"] = key


chosen = st.session_state.get("image_key") or st.query_params.get("image")
if isinstance(chosen, str) and chosen in by_key:  # only keys of this run open anything
    row = images.iloc[by_key[chosen]].to_dict()
    st.query_params["image"] = chosen
    with st.container(border=True):
        st.markdown(
            f"**Selected image** `{chosen[:16]}` · {tables.cell_label(row)} · seed {row['seed']}"
        )
        left, right = st.columns([1, 1])
        width = max(256, int(row["width"]))
        picture, why = safe_picture(run_dir, row["image_path"], px=width)
        if picture is not None:
            left.image(picture, width=width)
        else:
            left.warning(why)
        right.json(logic.request_of(row, scores))
        if st.button("Close", key="close_image"):
            st.session_state["image_key"] = None
            st.query_params.pop("image", None)
            st.rerun()

grid = logic.grid(shown, prompt_id)
pages = max(1, -(-len(grid.cells) // CELLS_PER_PAGE))
page = st.number_input("Page of cells", 1, pages, 1, key="im_page") if pages > 1 else 1
first = (int(page) - 1) * CELLS_PER_PAGE
st.markdown(
    f"**{prompt_id}**: {len(grid.cells)} cells x {len(grid.seeds)} seeds "
    f"(seeds {', '.join(str(s) for s in grid.seeds)})"
)
for cell in grid.cells[first : first + CELLS_PER_PAGE]:
    st.markdown(f"**{tables.cell_tuple_label(cell)}**")
    slots = st.columns(max(len(grid.seeds), 1))
    for seed, slot in zip(grid.seeds, slots, strict=False):
        found = grid.at(cell, seed)
        if found is None:
            slot.caption(f"seed {seed}: no image")
            continue
        picture, why = safe_picture(run_dir, found["image_path"], px=320)
        if picture is not None:
            slot.image(picture, width=160)
        else:
            slot.warning(why)
        slot.caption(f"seed {seed} · " + " · ".join(logic.score_lines(found, scores)))
        slot.button("Open", key=f"open_{found['key']}", on_click=open_image, args=(found["key"],))
