"""Compare: two runs through the regression gate: verdicts, effects with intervals, and the
worst pairs side by side."""

from __future__ import annotations

import streamlit as st

from audit.dashboard import charts, compare, data, tables, ui
from audit.dashboard.paths import safe_picture
from audit.errors import UserError

base_name, base_dir = ui.pick_run("Baseline", "baseline", 0)
cand_name, cand_dir = ui.pick_run("Candidate", "candidate", 1)
ui.page_header(
    "Compare",
    f"Baseline **{base_name}** against candidate **{cand_name}** through the default gate "
    "(paired on prompt, seed, sampler, steps and guidance).",
)
base, cand = ui.load(base_dir), ui.load(cand_dir)
if base.images.empty or cand.images.empty:
    ui.stop_with("Both runs need images to compare.")


def pick_model(label: str, frames_models: list[str], key: str) -> str | None:
    if len(frames_models) <= 1:
        return None
    return st.sidebar.selectbox(label, frames_models, key=key)


base_model = pick_model("Baseline model", compare.models_of(base), "cmp_base_model")
cand_model = pick_model("Candidate model", compare.models_of(cand), "cmp_cand_model")
allow_unpaired = st.sidebar.toggle("Compare shared pairs only (allow unpaired)", key="cmp_unpaired")

try:
    result = data.cached(
        "gate",
        (base_dir, cand_dir),
        (base_model, cand_model, allow_unpaired),
        lambda: compare.gate(
            base,
            cand,
            baseline_model=base_model,
            candidate_model=cand_model,
            allow_unpaired=allow_unpaired,
        ),
    )
except UserError as exc:
    ui.stop_with(f"These runs cannot be compared: {exc}", "error")
    raise

table = compare.verdict_table(result)
counts = table["verdict"].value_counts()
cols = st.columns(5)
cols[0].metric("Pairs", result.n_pairs)
for slot, verdict in zip(cols[1:], ("regressed", "improved", "inconclusive", "pass"), strict=True):
    slot.metric(verdict.capitalize(), int(counts.get(verdict, 0)))
outcome = "REGRESSED (the gate exits 1)" if result.regressed else "no regression (exit 0)"
st.markdown(
    f"Gate verdict for **{result.candidate}** against **{result.baseline}**: **{outcome}**; "
    f"intervals at {result.confidence:.0%}, alpha {result.alpha:g}."
)
for note in result.notes:
    st.caption(note)
st.dataframe(table, hide_index=True)

effects = table[table["verdict"] != "skipped"].dropna(subset=["effect"])
if not effects.empty:
    st.subheader("Effects")
    st.altair_chart(charts.effects(effects))
    st.caption(
        "Effect = candidate - baseline, signed so that positive means the candidate is better."
    )

st.subheader("Worst pairs")
names = compare.tested(result)
if not names:
    ui.stop_with("No per-image metric was tested, so there are no pairs to show.")
regressed = [v.name for v in result.regressed if v.name in names]
metric = st.selectbox("Metric", names, index=names.index(regressed[0]) if regressed else 0)
direction = next(v.direction for v in result.verdicts if v.name == metric)
k = st.slider("Pairs shown", 1, 12, 4, key="cmp_k")
worst = compare.worst_pairs(
    base,
    cand,
    metric,
    direction,
    baseline_model=base_model,
    candidate_model=cand_model,
    allow_unpaired=allow_unpaired,
    k=k,
)
if worst.empty:
    st.info(f"No pair has {metric} on both sides.")
for row in worst.to_dict("records"):
    st.markdown(
        f"**{row['prompt_id']}** seed {row['seed']} · {row['sampler']} · {row['steps']} steps · "
        f"cfg {row['guidance']:g}: {metric} {tables.fmt(row['base'])} → "
        f"{tables.fmt(row['cand'])} (effect {tables.fmt(row['effect'])})"
    )
    left, right = st.columns(2)
    for slot, side, run_dir, label in (
        (left, "base", base_dir, base_name),
        (right, "cand", cand_dir, cand_name),
    ):
        picture, why = safe_picture(run_dir, row[f"image_path_{side}"], px=400)
        if picture is not None:
            slot.image(picture, width=200, caption=f"{label}: {metric} {tables.fmt(row[side])}")
        else:
            slot.warning(f"{label}: {why}")
