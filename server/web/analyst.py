"""Placeholder page: filled in by a later stage."""
from __future__ import annotations

from flask import Blueprint

from ..routes.common import State
from .pages import page


def install(bp: Blueprint, state: State) -> None:
    @bp.get("/analyst")
    def analyst():
        return page("problem.html", "Not yet built", errors=["This page is not built yet."])
