"""Deliberately broken builds: one line of the code under test changed, per mutation.

Each :class:`Mutation` names a function of ``ice_widgets``, one line of it, the line that
replaces it, and the tests that must FAIL when that broken build runs. The tests were mended
(issue 13) because their old versions passed under exactly these mutations: each mutation
is a way for a README claim to be false that the old test did not notice.

``tests/test_mutations.py`` runs each mutation's tests in a pytest subprocess whose
``PYTHONPATH`` starts with ``tests/_mutation_site`` (its ``sitecustomize`` calls
:func:`apply_from_env`), so the mutation is in force in that pytest and in every Python
process it starts (child scripts, kernels, JupyterLab). By hand::

    ICE_WIDGETS_MUTATION=never_retry PYTHONPATH=tests/_mutation_site:$PWD \\
        .venv/bin/python -m pytest tests/test_adversarial.py -k sync

The mutation is applied to the source of the one function: its source is read, the line
is replaced (it must occur exactly once), and the function is compiled again in its
module's namespace and put in place of the original (on the class, for a method), also
where another ``ice_widgets`` module imported it by name. When the code under test changes
so that the line is gone, :func:`apply` raises and ``test_every_mutation_still_applies``
fails: the mutation must then be brought up to date with the code.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
import textwrap
from dataclasses import dataclass
from typing import Any

ENV = "ICE_WIDGETS_MUTATION"
#: The mutations applied in this process (read by ``tests/conftest.py`` to report them).
APPLIED: list[str] = []


@dataclass(frozen=True)
class Mutation:
    """One line of ``module.qualname`` replaced; ``tests`` must fail, showing ``expect``."""

    name: str
    module: str
    qualname: str
    old: str
    new: str
    tests: tuple[str, ...]
    expect: str
    why: str
    #: The tests pass, the session fails: the suite-wide secret scan (tests/_secret_session.py).
    session_fails: bool = False
    #: Minutes, not seconds (JupyterLab and Chromium, or 25 child processes): run only with
    #: ICE_WIDGETS_ALL_MUTATIONS=1 (listed in tests/allowed_skips.txt, with the reason).
    expensive: bool = False


MUTATIONS: tuple[Mutation, ...] = (
    Mutation(
        name="ctrl_c_cancels_late",
        module="ice_widgets._batch",
        qualname="_interrupt",
        old="if not requested and started.is_set():",
        new="if not requested and started.is_set() and time.monotonic() > deadline - 7.0:",
        tests=("tests/test_batch.py::test_keyboard_interrupt_cancels_and_leaves_no_threads",),
        expect="after the interrupt",
        why="Ctrl-C cancels the batch 3 s late; the old test allowed 60 s",
    ),
    Mutation(
        name="never_retry",
        module="ice_widgets._core",
        qualname="should_retry",
        old="if attempt > max_retries or not is_retryable(error, idempotent=idempotent):",
        new="if attempt >= 1 or not is_retryable(error, idempotent=idempotent):",
        tests=(
            "tests/test_adversarial.py::test_get_package_job_sync[drop]",
            "tests/test_adversarial.py::test_get_package_job_async[html]",
            "tests/test_adversarial.py::test_fetch_jobs_gives_a_clear_error_row_per_job[truncated]",
        ),
        expect="requests",
        why="a client that never retries; the old test asserted only an upper bound on requests",
    ),
    Mutation(
        name="timeout_eight_times_longer",
        module="ice_widgets._client",
        qualname="_BaseClient._httpx_options",
        old='"timeout": httpx.Timeout(self.timeout, connect=min(self.timeout, 5.0)),',
        new='"timeout": httpx.Timeout(self.timeout * 8, connect=min(self.timeout, 5.0)),',
        tests=("tests/test_adversarial.py::test_get_package_job_sync[silent]",),
        expect="the client's own bound",
        why="each attempt waits 8x the configured timeout; the old test allowed 20 s in all",
    ),
    Mutation(
        name="odd_ids_dropped",
        module="ice_widgets._ids",
        qualname="parse_ids",
        old="entries.append(entry)",
        new="if isinstance(entry, str): entries.append(entry)",
        tests=("tests/test_hostile_input.py::test_odd_ids_become_rows_with_errors",),
        expect="rows",
        why="unusable IDs silently dropped; the old test accepted fewer rows (len(frame) <= ...)",
    ),
    Mutation(
        name="clip_shows_nothing",
        module="ice_widgets.widgets._html",
        qualname="clip",
        old="return text",
        new='return ""',
        tests=("tests/test_xss.py::test_card_html_and_text[3]",),
        expect="payload",
        why="every API string shown as nothing; the old expected text came from clip() itself",
    ),
    Mutation(
        name="batch_loop_never_closed",
        module="ice_widgets._batch",
        qualname="run_sync",
        old="loop.close()",
        new="pass",
        tests=("tests/test_tls.py::test_no_tls_connection_is_left_unclosed_when_the_batch_loop_ends[clean]",),
        expect="ResourceWarning",
        why="fetch_jobs' private event loop is never closed; the old test looked only for"
        " 'unclosed transport'",
    ),
    Mutation(
        name="ssl_error_counted_as_retry",
        module="ice_widgets._core",
        qualname="Call.failed",
        old="if retry:",
        new="if retry or isinstance(error, TransportError):",
        tests=("tests/test_tls.py::test_the_httpx_client_does_not_retry_an_untrusted_certificate[async]",),
        expect="retries",
        why="a failed certificate counted as a retry; the old async branch set retries = 0 itself",
    ),
    Mutation(
        name="card_text_hides_stale",
        module="ice_widgets.widgets._html",
        qualname="card_head_lines",
        old="if stale is not None:",
        new="if False:",
        tests=("tests/test_watch.py::test_cards_opened_from_a_watch_show_stale",),
        expect="[stale:",
        why="a stale card's text does not say so; the old check matched the notice's '1 stale'",
    ),
    Mutation(
        name="times_not_stripped",
        module="ice_widgets._models",
        qualname="_parse_time",
        old="text = value.strip()",
        new="text = value",
        tests=("tests/test_models.py::test_reference_page_example_parses",),
        expect="create_time",
        why="the documented example's CreateTime (with its newline) is not parsed; the old test"
        " skipped in CI (it read a file outside the repository)",
    ),
    Mutation(
        name="fetch_cache_never_written",
        module="ice_widgets._fetch",
        qualname="_gather",
        old="if len(pending) >= 500:",
        new="if len(pending) >= 10**9:",
        tests=("tests/test_cache_crash.py::test_kill_9_while_writing_the_cache",),
        expect="cache write #2",
        why="fetch_jobs writes the cache only when it ends, so a kill -9 loses everything fetched;"
        " the old test never checked that the killed fetch had written anything",
        expensive=True,
    ),
    Mutation(
        name="fetch_cache_written_per_job",
        module="ice_widgets._fetch",
        qualname="_cache_write",
        old="cache.put_many(jobs, endpoint)",
        new="[cache.put_many([job], endpoint) for job in jobs]",
        tests=("tests/test_cache_crash.py::test_kill_9_while_writing_the_cache",),
        expect="not whole batches of 500",
        why="fetch_jobs writes each batch as one transaction per job, so a kill leaves half a"
        " batch; the old test skipped the whole-batch check for fetch_jobs (empty order)",
        expensive=True,
    ),
    Mutation(
        name="credential_picklable",
        module="ice_widgets._credentials",
        qualname="Credential.__reduce__",
        old='raise TypeError("Credential objects are not picklable (they hold a secret)")',
        new="return (Credential, (self.access_key_id, self.access_key_secret, self.security_token))",
        tests=("tests/test_secret_scan.py::test_everything_a_session_does_never_shows_the_secret",),
        expect="pickled credential",
        why="a credential pickles with its secret; the old test threw the pickled bytes away",
    ),
    Mutation(
        name="emulator_prints_tokens",
        module="ice_widgets.emulator._server",
        qualname="_App._check_key",
        old="if not _same(token, settings.security_token):",
        new="if not _same(token, settings.security_token) and not print(settings.security_token):",
        tests=("tests/test_official_sdk.py::test_sts_token_through_the_sdk",),
        expect="secret scan failed",
        why="the emulator prints the security token it expected when another one arrives; the old"
        " scan re-ran six modules only, and did not look for secrets defined inside tests",
        session_fails=True,
    ),
    Mutation(
        name="attribute_quotes_not_escaped",
        module="ice_widgets.widgets._html",
        qualname="esc",
        old="return html.escape(clip(value, limit), quote=True)",
        new="return html.escape(clip(value, limit), quote=False)",
        tests=("tests/test_browser.py::test_every_injection_payload_in_the_browser",),
        expect="SPAN on",
        why="quotes in API text are not escaped, so a payload leaves its title attribute and adds"
        " an event handler; the old browser test showed only four <script> payloads",
        expensive=True,
    ),
    Mutation(
        name="duration_minutes_and_seconds_swapped",
        module="ice_widgets.widgets._html",
        qualname="format_duration",
        old="minutes, secs = divmod(rest, 60)",
        new="secs, minutes = divmod(rest, 60)",
        tests=("tests/test_browser.py::test_quickstart_job_card",),
        expect="the server says",
        why="the card shows a wrong duration; the old browser test looked for a digit only",
        expensive=True,
    ),
)

BY_NAME = {m.name: m for m in MUTATIONS}


def _resolve(mutation: Mutation) -> tuple[Any, Any, str, Any]:
    """``(module, owner, attribute name, original object)`` of the mutated function."""
    module = importlib.import_module(mutation.module)
    owner: Any = module
    parts = mutation.qualname.split(".")
    for part in parts[:-1]:
        owner = getattr(owner, part)
    name = parts[-1]
    return module, owner, name, inspect.getattr_static(owner, name)


def mutated_source(mutation: Mutation) -> tuple[str, str, int]:
    """The function's source with the one line replaced, its file and first line number."""
    _module, _owner, _name, original = _resolve(mutation)
    function = original.__func__ if isinstance(original, (staticmethod, classmethod)) else original
    lines, first = inspect.getsourcelines(function)
    hits = [i for i, line in enumerate(lines) if line.strip() == mutation.old]
    if len(hits) != 1:
        raise LookupError(
            f"mutation {mutation.name}: the line {mutation.old!r} occurs {len(hits)} times in "
            f"{mutation.module}.{mutation.qualname} (expected once): update tests/_mutations.py"
        )
    line = lines[hits[0]]
    indent = line[: len(line) - len(line.lstrip())]
    lines[hits[0]] = f"{indent}{mutation.new}\n"
    return textwrap.dedent("".join(lines)), inspect.getsourcefile(function) or "<mutation>", first


def apply(name: str) -> Mutation:
    """Put the mutated function in place of the original, in this process."""
    mutation = BY_NAME[name]
    module, owner, attr, original = _resolve(mutation)
    source, filename, first = mutated_source(mutation)
    namespace: dict[str, Any] = {}
    # Blank lines before the source keep tracebacks pointing at the real line numbers.
    code = compile("\n" * (first - 1) + source, filename, "exec")
    exec(code, vars(module), namespace)
    replacement = namespace[attr]
    setattr(owner, attr, replacement)
    if owner is module:  # also where another module did `from ... import name`
        for other in list(sys.modules.values()):
            if getattr(other, "__name__", "").startswith("ice_widgets") and other is not module:
                for other_name, value in list(vars(other).items()):
                    if value is original:  # under any name
                        setattr(other, other_name, replacement)
    APPLIED.append(name)
    return mutation


def apply_from_env() -> None:
    """Apply the mutation named in ``ICE_WIDGETS_MUTATION`` (called by ``sitecustomize``)."""
    name = os.environ.get(ENV, "")
    if name:
        apply(name)
