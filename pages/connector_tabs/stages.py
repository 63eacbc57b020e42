"""The Manage tab's deal stages: how a CRM's pipelines and stages become Sophia's stages, each inferred from
the pipeline's own metadata, the vendor's default or a ``stage_map`` override, and those left unmapped
(their deals are quarantined until ``stage_map`` names them). Read from the vendor on demand
(``core.pipelines.manage.stage_mappings``), as a connection test is."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from connectors.registry import KINDS
from core.errors import SophiaError
from core.pipelines import manage
from core.pipelines.manage import ConnectorStatus
from core.runtime import Runtime

SOURCE_LABEL = {
    "override": "stage_map",
    "default": "vendor default",
    "inferred": "inferred",
    "unmapped": "unmapped",
}


def has_stages(kind: str) -> bool:
    """A kind whose settings carry a ``stage_map`` has deal stages to map."""
    info = KINDS.get(kind)
    return info is not None and info.available and "stage_map" in info.config_model.model_fields


def stage_mapping(rt: Runtime, c: ConnectorStatus) -> None:
    if not has_stages(c.kind):
        return
    key = f"stages_{c.name}"
    with st.expander("Deal stages: how this CRM's stages become Sophia's", expanded=key in st.session_state):
        st.caption(
            "Stages are inferred from each pipeline's own settings (closed or open, win probability, order). "
            "Correct one with the stage_map setting: `vendor stage id = our stage`."
        )
        if st.button("Read the pipelines", key=f"read_{key}", icon=":material/account_tree:"):
            _read(rt, c.name, key)
        shown = st.session_state.get(key)
        if isinstance(shown, str):
            st.error(shown, icon=":material/error:")
        elif shown is not None:
            stage_table(shown)


def _read(rt: Runtime, name: str, key: str) -> None:
    with st.spinner(f"Reading {name}'s pipelines…"):
        try:
            st.session_state[key] = manage.stage_mappings(runtime=rt, kinds=KINDS, name=name)
        except SophiaError as exc:
            st.session_state[key] = f"Could not read the pipelines: {exc.message}"


def stage_table(rows: list) -> None:  # list[StageMapping]
    if not rows:
        st.info("This connector lists no pipelines; its stage_map setting, if any, is all there is.")
        return
    unmapped = [r for r in rows if r.stage is None]
    if unmapped:
        st.warning(
            f"{len(unmapped)} stage(s) map to nothing: their deals are quarantined until stage_map names them "
            f"({', '.join(r.stage_id for r in unmapped[:5])}).",
            icon=":material/warning:",
        )
    frame = pd.DataFrame(
        [
            {
                "pipeline": r.pipeline,
                "stage": r.label,
                "stage_id": r.stage_id,
                "ours": r.stage or "—",
                "from": SOURCE_LABEL.get(r.source, r.source),
            }
            for r in rows
        ]
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "pipeline": "Pipeline",
            "stage": "Stage",
            "stage_id": "Stage id",
            "ours": "Sophia stage",
            "from": "From",
        },
    )
