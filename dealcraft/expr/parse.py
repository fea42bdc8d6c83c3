"""Parsing: sqlglot's tokenizer and parser, behind a token filter that refuses anything but
expression syntax (statements, subqueries, comments, casts) before the parser ever sees it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.parser import Parser
from sqlglot.tokens import Token, TokenType

from .errors import ExprError

MAX_LENGTH = 4000
MAX_DEPTH = 64

#: Marks a parameter inside the rewritten token stream; user text can never produce it
#: because ``:`` is not an identifier character.
PARAM_PREFIX = ":"

_IDENTIFIER = re.compile(r"^[^\W\d]\w*$", re.UNICODE)

# Tokens that are the expression language. Everything else is refused, except words that
# sqlglot treats as keywords (``date``, ``year``...) which become plain identifiers.
_ALLOWED_TOKENS = frozenset(
    {
        TokenType.VAR,
        TokenType.IDENTIFIER,
        TokenType.NUMBER,
        TokenType.STRING,
        TokenType.L_PAREN,
        TokenType.R_PAREN,
        TokenType.COMMA,
        TokenType.DOT,
        TokenType.EQ,
        TokenType.NEQ,
        TokenType.LT,
        TokenType.LTE,
        TokenType.GT,
        TokenType.GTE,
        TokenType.AND,
        TokenType.OR,
        TokenType.NOT,
        TokenType.IN,
        TokenType.BETWEEN,
        TokenType.LIKE,
        TokenType.IS,
        TokenType.NULL,
        TokenType.TRUE,
        TokenType.FALSE,
        TokenType.PLUS,
        TokenType.DASH,
        TokenType.STAR,
        TokenType.SLASH,
        TokenType.DPIPE,
    }
)

# Words that only make sense in statements or subqueries; refused even as field names so an
# injection attempt is named as such instead of surfacing as a confusing syntax error.
_STATEMENT_WORDS = frozenset(
    """select union intersect except from where insert update delete drop create alter
    truncate grant revoke exec execute with join into values exists all any some cast
    having group order limit offset returning call copy pragma attach detach""".split()
)

# The sqlglot node types an expression may contain; any other node is refused.
_ALLOWED_NODES: frozenset[type[exp.Expression]] = frozenset(
    {
        exp.And,
        exp.Or,
        exp.Not,
        exp.Paren,
        exp.EQ,
        exp.NEQ,
        exp.LT,
        exp.LTE,
        exp.GT,
        exp.GTE,
        exp.In,
        exp.Between,
        exp.Like,
        exp.Is,
        exp.Null,
        exp.Boolean,
        exp.Literal,
        exp.Column,
        exp.Identifier,
        exp.Dot,
        exp.Anonymous,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.Neg,
        exp.DPipe,
    }
)


class _ExprDialect(Dialect):
    """The default dialect with every built-in function parser removed: all calls parse as
    plain ``name(args)`` and the function whitelist decides what they mean."""

    class Parser(Parser):
        FUNCTIONS: dict = {}  # type: ignore[type-arg]
        FUNCTION_PARSERS: dict = {}  # type: ignore[type-arg]
        NO_PAREN_FUNCTIONS: dict = {}  # type: ignore[type-arg]
        NO_PAREN_FUNCTION_PARSERS: dict = {}  # type: ignore[type-arg]


_DIALECT = _ExprDialect()


@dataclass(frozen=True)
class Expression:
    """A parsed expression, not yet checked against a schema."""

    source: str
    tree: exp.Expression = field(compare=False, repr=False)


def parse(source: str) -> Expression:
    """Parse ``source``; raises ExprError ``expr_syntax`` or ``expr_not_allowed``."""
    if not isinstance(source, str):
        raise ExprError("expr_syntax", "an expression must be text", source=None)
    if len(source) > MAX_LENGTH:
        raise ExprError(
            "expr_not_allowed",
            f"expressions are limited to {MAX_LENGTH} characters, this one has {len(source)}",
            token=None,
            position=MAX_LENGTH,
            source=source,
        )
    if not source.strip():
        raise ExprError("expr_syntax", "the expression is empty", position=0, source=source)

    # Tokenize and filter: nothing outside the language reaches the parser
    try:
        raw = _DIALECT.tokenize(source)
    except TokenError as e:
        raise ExprError(
            "expr_syntax", f"cannot read the expression: {e}", position=None, source=source
        ) from e
    tokens = _filter_tokens(source, raw)

    # Parse exactly one expression
    try:
        trees = _DIALECT.parser().parse(tokens, source)
    except ParseError as e:
        raise _syntax_error(source, e) from e
    except RecursionError as e:
        raise ExprError(
            "expr_not_allowed", "the expression is nested too deeply", position=0, source=source
        ) from e
    if len(trees) != 1 or trees[0] is None:
        raise ExprError("expr_syntax", "expected exactly one expression", position=0, source=source)
    tree = trees[0]

    # Refuse node types outside the language, and trees too deep to evaluate safely
    _check_nodes(source, tree)
    return Expression(source=source, tree=tree)


def _filter_tokens(source: str, raw: list[Token]) -> list[Token]:
    out: list[Token] = []
    previous_end = -1
    i = 0
    while i < len(raw):
        token = raw[i]

        # Comments hide text from a reader of the expression; sqlglot keeps them on the token
        gap = source[previous_end + 1 : token.start]
        if token.comments or "--" in gap or "/*" in gap:
            marker = min((gap.find(m) for m in ("--", "/*") if m in gap), default=-1)
            position = previous_end + 1 + marker if marker >= 0 else _comment_after(source, token)
            raise ExprError(
                "expr_not_allowed",
                "comments are not allowed in expressions",
                token=source[position : position + 2],
                position=position,
                source=source,
            )
        previous_end = token.end

        # A parameter: ':' name ('.' name)*, merged into one identifier token
        if token.token_type is TokenType.COLON:
            merged, i = _merge_parameter(source, raw, i)
            out.append(merged)
            previous_end = merged.end
            continue

        if token.token_type is TokenType.SEMICOLON:
            raise ExprError(
                "expr_not_allowed",
                'only one expression is allowed; ";" separates statements',
                token=";",
                position=token.start,
                source=source,
            )
        word = token.text.lower()
        if token.token_type is not TokenType.STRING and word in _STATEMENT_WORDS:
            raise ExprError(
                "expr_not_allowed",
                f'"{token.text}" belongs to SQL statements and subqueries, not expressions',
                token=token.text,
                position=token.start,
                source=source,
            )
        if token.token_type in _ALLOWED_TOKENS:
            out.append(token)
        elif _IDENTIFIER.match(token.text):
            out.append(_as_identifier(token, token.text))
        else:
            raise ExprError(
                "expr_not_allowed",
                f'"{token.text}" is not an operator of the expression language',
                token=token.text,
                position=token.start,
                source=source,
            )
        i += 1
    trailing = source[previous_end + 1 :]
    for marker in ("--", "/*"):
        if marker in trailing:
            position = previous_end + 1 + trailing.index(marker)
            raise ExprError(
                "expr_not_allowed",
                "comments are not allowed in expressions",
                token=marker,
                position=position,
                source=source,
            )
    return out


def _comment_after(source: str, token: Token) -> int:
    rest = source[token.end + 1 :]
    found = [rest.find(m) for m in ("--", "/*") if m in rest]
    return token.end + 1 + min(found) if found else token.start


def _merge_parameter(source: str, raw: list[Token], i: int) -> tuple[Token, int]:
    colon = raw[i]
    parts: list[str] = []
    j = i + 1
    while True:
        name = raw[j] if j < len(raw) else None
        if name is None or not _IDENTIFIER.match(name.text) or name.token_type is TokenType.STRING:
            bad = name.text if name is not None else ":"
            raise ExprError(
                "expr_syntax",
                'a parameter is ":" followed by a name, such as ":user.id"',
                token=bad,
                position=name.start if name is not None else colon.start,
                source=source,
            )
        if name.start != (colon.end + 1 if not parts else raw[j - 1].end + 1):
            raise ExprError(
                "expr_syntax",
                'a parameter name must follow its ":" or "." without spaces',
                token=name.text,
                position=name.start,
                source=source,
            )
        parts.append(name.text)
        j += 1
        if j < len(raw) and raw[j].token_type is TokenType.DOT and raw[j].start == name.end + 1:
            j += 1
            continue
        break
    end = raw[j - 1].end
    merged = Token(
        TokenType.VAR,
        PARAM_PREFIX + ".".join(parts),
        line=colon.line,
        col=raw[j - 1].col,
        start=colon.start,
        end=end,
    )
    return merged, j


def _as_identifier(token: Token, text: str) -> Token:
    return Token(
        TokenType.VAR, text, line=token.line, col=token.col, start=token.start, end=token.end
    )


def _syntax_error(source: str, error: ParseError) -> ExprError:
    details = error.errors[0] if error.errors else {}
    description = details.get("description") or "invalid expression"
    highlight = details.get("highlight") or None
    line = details.get("line")
    col = details.get("col")
    position: int | None = None
    if isinstance(line, int) and isinstance(col, int):
        line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        base = line_starts[min(line, len(line_starts)) - 1]
        position = max(0, base + col - len(highlight or " "))
    # sqlglot names its own node classes in some messages; readers need the rule, not those
    description = re.sub(r" for <class '[^']+'>", "", description)
    return ExprError(
        "expr_syntax",
        f"invalid expression ({description}) near {highlight!r}",
        token=highlight,
        position=position,
        source=source,
    )


def node_position(node: exp.Expression) -> int | None:
    """The source offset of the first token of ``node``, from sqlglot's token metadata."""
    best: int | None = None
    for child in node.walk():
        start = child.meta.get("start") if child.meta else None
        if isinstance(start, int) and (best is None or start < best):
            best = start
    return best


def node_end(node: exp.Expression) -> int | None:
    best: int | None = None
    for child in node.walk():
        end = child.meta.get("end") if child.meta else None
        if isinstance(end, int) and (best is None or end > best):
            best = end
    return best


def node_text(source: str, node: exp.Expression) -> str:
    """The source text of ``node``, for error messages."""
    start, end = node_position(node), node_end(node)
    if start is None or end is None:
        return node.sql()
    if isinstance(node, exp.Anonymous):
        # Token metadata stops at the last argument; a call reaches its closing parenthesis
        end = _closing_paren(source, start) or end
    return source[start : end + 1]


def _closing_paren(source: str, start: int) -> int | None:
    depth, quoted = 0, False
    for index in range(start, len(source)):
        char = source[index]
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    return None


def _check_nodes(source: str, tree: exp.Expression) -> None:
    stack: list[tuple[exp.Expression, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExprError(
                "expr_not_allowed",
                f"expressions may nest at most {MAX_DEPTH} levels",
                token=node_text(source, node),
                position=node_position(node),
                source=source,
            )
        # Exact types: sqlglot subclasses allowed nodes for constructs the language lacks
        if type(node) not in _ALLOWED_NODES:
            raise ExprError(
                "expr_not_allowed",
                f'"{node.key}" is not part of the expression language',
                token=node_text(source, node),
                position=node_position(node),
                source=source,
            )
        stack.extend((child, depth + 1) for child in node.iter_expressions())
