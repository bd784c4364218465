"""Who is using the app (role and name). Interim: local mode, everyone is a viewer unless
KPI_LOCAL_ROLE says otherwise. Replaced by the roles work (issue 6)."""

import os
from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class User:
    name: str
    role: str  # viewer | digitallotse | admin


def current_user() -> User:
    role = os.environ.get("KPI_LOCAL_ROLE", "admin")
    return User(name="lokal", role=role if role in ("viewer", "digitallotse", "admin") else "viewer")


def render_account_box(user: User) -> None:
    st.sidebar.caption(f"Angemeldet als {user.name} ({user.role})")
