"""Errors reach the page as short messages, never as tracebacks."""

from __future__ import annotations

import functools
import logging
from typing import Callable

import gradio as gr

from core.errors import BailongError

log = logging.getLogger("bailong.studio")


def as_message(fn: Callable) -> Callable:
    """Run a callback; a failure becomes a one-line error toast (the traceback goes to the server log only)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except BailongError as error:
            raise gr.Error(str(error), print_exception=False) from None
        except Exception as error:
            log.exception("studio callback failed")
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise gr.Error(f"{type(error).__name__}: {first}", print_exception=False) from None

    return wrapper
