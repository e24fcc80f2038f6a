"""Placeholder until this command group lands."""

import argparse
from typing import Any


def register(subparsers: "argparse._SubParsersAction[Any]") -> None:
    del subparsers
