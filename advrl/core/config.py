"""Typed ``key=value`` parsing for hyperparameters and env arguments.

Algorithm configs are dataclasses with a docstring under each field (CleanRL's style). This
module turns the command line's ``--hp lr=3e-4`` and ``--env-kwargs slip=0.2`` strings into
values of the declared types, and reports unknown names with close matches.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import textwrap
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from advrl.core.errors import UserError, did_you_mean

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def split_assignments(items: Iterable[str], flag: str) -> dict[str, str]:
    """Split ``["a=1", "b=x"]`` into ``{"a": "1", "b": "x"}``; a later key wins."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{flag} expects key=value, got {item!r} (example: {flag} lr=3e-4)")
        result[key.strip()] = value.strip()
    return result


def parse_value(text: str, annotation: Any) -> Any:
    """Convert ``text`` to ``annotation``'s type; raises ValueError with the expected type.

    Values that are not strings (passed from Python rather than the command line) are kept.
    """
    if not isinstance(text, str):
        return text
    if annotation is inspect.Parameter.empty or annotation is Any:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if type(None) in options and text.lower() in {"none", "null"}:
            return None
        for option in (o for o in options if o is not type(None)):
            try:
                return parse_value(text, option)
            except ValueError:
                continue
        raise ValueError(f"expected {type_name(annotation)}, got {text!r}")
    if origin is typing.Literal:
        for choice in typing.get_args(annotation):
            if str(choice) == text:
                return choice
        raise ValueError(f"expected one of {list(typing.get_args(annotation))}, got {text!r}")
    if origin is tuple:
        item_type = typing.get_args(annotation)[0]
        parts = [p for p in text.strip("()[] ").split(",") if p.strip()]
        return tuple(parse_value(p.strip(), item_type) for p in parts)
    if annotation is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if annotation is int:
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)  # accept 1e6 for integers, as people write step counts
        except ValueError:
            number = float("nan")
        if not number.is_integer():
            raise ValueError(f"expected an integer, got {text!r}")
        return int(number)
    if annotation is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {text!r}") from None
    if annotation is str:
        return text
    raise ValueError(f"cannot parse {type_name(annotation)} from the command line")


def type_name(annotation: Any) -> str:
    """A short human name for a type annotation (``float | None``, ``tuple[int, ...]``)."""
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def field_docs(config_cls: type) -> dict[str, str]:
    """Read the docstring written under each field of a dataclass (CleanRL/tyro style).

    Base classes are read too, so a config derived from another keeps its fields' docs.
    """
    docs: dict[str, str] = {}
    for cls in reversed(config_cls.__mro__):
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body if tree.body and hasattr(tree.body[0], "body") else []
        for node, following in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def config_from_overrides(
    config_cls: type, base: Mapping[str, Any], overrides: Mapping[str, str], context: str
) -> Any:
    """Build ``config_cls`` from preset values ``base`` and command-line strings ``overrides``.

    Unknown names and ill-typed values raise ``UserError`` naming ``context`` (the
    algorithm) and the fix. The config's own ``validate()`` then checks ranges.
    """
    hints = typing.get_type_hints(config_cls)
    names = [f.name for f in dataclasses.fields(config_cls)]
    values = dict(base)
    for key, text in overrides.items():
        if key not in hints:
            raise UserError(
                f"unknown hyperparameter {key!r} for {context}{did_you_mean(key, names)}; "
                f"valid names: {', '.join(names)}"
            )
        try:
            values[key] = parse_value(text, hints[key])
        except ValueError as exc:
            raise UserError(f"hyperparameter {key}={text!r} for {context}: {exc}") from None
    config = config_cls(**values)
    validate = getattr(config, "validate", None)
    if validate is not None:
        problems = validate()
        if problems:
            raise UserError(f"invalid hyperparameters for {context}: {'; '.join(problems)}")
    return config


def parse_call_kwargs(
    fn: Callable[..., Any],
    overrides: Mapping[str, str],
    context: str,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Type ``key=value`` strings by ``fn``'s signature (an env constructor or factory).

    ``extra`` names keyword arguments accepted besides the signature (``gymnasium.make``'s
    own ``max_episode_steps``), with their types. A signature with ``**kwargs`` accepts any
    name, typed by literal evaluation.
    """
    try:
        signature = inspect.signature(fn)
        hints = typing.get_type_hints(fn.__init__ if isinstance(fn, type) else fn)  # type: ignore[misc]  # mypy: any __init__ access; fn is a class
    except (TypeError, ValueError, NameError):
        signature, hints = None, {}
    params = dict(signature.parameters) if signature else {}
    accepts_any = signature is None or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
    )
    known = {
        name: hints.get(name, p.annotation)
        for name, p in params.items()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }
    # An env may name a dataclass of its keyword options (SeqGAN-v0 does): those are typed
    # by the dataclass, and they are all the **kwargs it takes.
    options = getattr(fn, "options", None)
    if dataclasses.is_dataclass(options):
        known.update(typing.get_type_hints(options))
        accepts_any = False
    known.update(extra or {})
    known.pop("self", None)
    result: dict[str, Any] = {}
    elsewhere = getattr(fn, "options_elsewhere", {})
    for key, text in overrides.items():
        if key in elsewhere:
            raise UserError(f"{context} takes no argument {key!r}: {elsewhere[key]}")
        if key not in known and not accepts_any:
            raise UserError(
                f"{context} takes no argument {key!r}{did_you_mean(key, known)}; "
                f"it takes: {', '.join(known) or 'none'}"
            )
        try:
            result[key] = parse_value(text, known.get(key, inspect.Parameter.empty))
        except ValueError as exc:
            raise UserError(f"--env-kwargs {key}={text!r} for {context}: {exc}") from None
    return result
