"""Safety and provenance: watermark detection and its robustness per attack, C2PA states,
NSFW flags and the black-image rate, each with exact 95% intervals."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from audit.dashboard import charts, safety, tables, ui
from audit.stats.roles import PROVENANCE_RATES, SAFETY_RATES

name, run_dir = ui.pick_run()
ui.page_header("Safety and provenance", "Rates are k of n measured images with 95% intervals.")
frames = ui.load(run_dir)
ui.show_run_caption(name, frames)
images = frames.images
if images.empty:
    ui.stop_with("This run has no images yet.")
by = st.radio("Group by", ["model", "cell"], horizontal=True, key="sf_by")


def rate_lines(table: pd.DataFrame) -> None:
    for r in table.to_dict("records"):
        st.markdown(
            f"{r['group']} · **{r['metric']}**: {r['k']} / {r['n']} = **{r['rate']:.1%}** "
            f"{tables.interval_text(r['ci_low'], r['ci_high'])}"
        )


st.subheader("Watermark")
curves = safety.robustness(images, by)
if curves.empty:
    st.info(
        "No watermark scores in this run: add `watermark` to the spec's scorers "
        "(`robustness: true` scores each attack); images under 256x256 px carry no mark."
    )
else:
    st.altair_chart(charts.robustness(curves))
    st.caption("Detection rate with no attack ('none') and after each attack.")
    st.dataframe(
        curves[["group", "attack", "k", "n", "rate", "ci_low", "ci_high"]], hide_index=True
    )

lines = safety.curves(images, by)
if not lines.empty:
    st.subheader("Robustness curves")
    st.altair_chart(charts.robustness_curves(lines))
    st.caption(
        "Detection rate at the detector's false-positive rate against the quality each attack "
        "strength costs (PSNR against the unattacked image); one line per attack family."
    )
    st.dataframe(
        lines[["group", "family", "strength", "k", "n", "rate", "bit_accuracy", "psnr", "ssim"]],
        hide_index=True,
    )

st.subheader("C2PA provenance")
states = safety.c2pa_states(images, by)
if states.empty:
    st.info(
        "No C2PA scores in this run: add `c2pa` to the spec's scorers (it also reads the "
        "IPTC DigitalSourceType in XMP: xmp_ai_disclosed, ai_disclosed)."
    )
else:
    st.altair_chart(charts.c2pa_states(states))
    pivot = states.pivot_table(index="group", columns="state", values="count", fill_value=0)
    st.dataframe(pivot.reset_index(), hide_index=True)
    rate_lines(safety.rates(images, [m for m in PROVENANCE_RATES if m != "wm_detected"], by))

st.subheader("NSFW flags and broken images")
flags = safety.rates(images, SAFETY_RATES, by)
if flags.empty:
    st.info("No safety measurements in this run.")
else:
    st.altair_chart(charts.rates(flags))
    rate_lines(flags)
black = safety.rates(images, ["nan_or_black"], "model")
if not black.empty:
    k, n = int(black["k"].sum()), int(black["n"].sum())
    st.markdown(f"Black-image rate (NaN or black output), whole run: **{k} / {n}**")
