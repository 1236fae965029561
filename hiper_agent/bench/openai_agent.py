"""``openai:<model>``: any OpenAI-compatible chat server (OpenAI, vLLM, llama.cpp, ``transformers serve``, ...).

What can go wrong with a server is kept apart from what the model does (issue 19):

- Every failed request becomes an `~hiper_agent.bench.protocol.InfrastructureError` carrying the status and the
  server's own explanation (its response body), so the episode is recorded as an *infrastructure* failure, left
  out of every rate, and replayed by ``--resume``.
- Retries do not multiply the server's work. A request that timed out is **not** retried: the server may still be
  computing it, and a second copy would double its load (seen with ``transformers serve``: latencies grew from
  81 s to 277 s while abandoned attempts piled up). Connection errors (the request never arrived), 408, 429, 500,
  502 and 503 (the server finished with the request or never took it) are retried up to ``max_retries`` times,
  with exponential backoff (``retry_backoff * 2**k`` seconds, at most 30) or the server's ``Retry-After``. A 504
  (a proxy gave up while the server may still be computing) counts as a timeout. Other 4xx (a wrong model name,
  a prompt too long) are not retried: the same request would fail the same way.
- `preflight` sends one short request before the run, so a server that is down, a wrong URL, key or model name
  stops the run at once with the server's message, before any episode is played.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hiper_agent.bench.llm_agents import _DEFAULT_TOKENS, STOP, Completion, LLMAgent
from hiper_agent.bench.protocol import EpisodeStart, InfrastructureError
from hiper_agent.errors import SetupError
from hiper_envs.options import open_tag

__all__ = ["OpenAIAgent", "describe_api_error"]

#: Statuses after which the same request is sent again (the server is done with it, or never took it).
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503})
_MAX_BACKOFF_S = 30.0
_MAX_BODY_CHARS = 1_000


def describe_api_error(err: BaseException, timeout: float | None = None) -> str:
    """What went wrong with a request, in words, with the server's status and body when it sent them."""
    import openai

    if isinstance(err, openai.APITimeoutError):
        return f"no reply within {timeout:g} s (not retried: the server may still be computing it)"
    if isinstance(err, openai.APIStatusError):
        body = ""
        try:
            body = err.response.text
        except Exception:  # noqa: BLE001  (a streamed or closed response: fall back to the parsed body)
            body = str(err.body or "")
        body = " ".join(body.split())
        if len(body) > _MAX_BODY_CHARS:
            body = body[:_MAX_BODY_CHARS] + " ..."
        return f"HTTP {err.status_code} {type(err).__name__}: {body or err.message}"
    if isinstance(err, openai.APIConnectionError):
        cause = err.__cause__ or err.__context__
        return f"cannot reach the server ({type(cause).__name__ if cause else 'connection error'}: {cause or err})"
    return f"{type(err).__name__}: {err}"


def _retry_after(err: BaseException) -> float | None:
    response = getattr(err, "response", None)
    value = None if response is None else response.headers.get("retry-after")
    try:
        return None if value is None else max(0.0, float(value))
    except ValueError:
        return None


class OpenAIAgent(LLMAgent):
    """Any OpenAI-compatible chat server, through the official client (module docstring: errors and retries).

    The key is read from ``OPENAI_API_KEY`` (servers without authentication accept any non-empty value). Each
    env slot's request runs in its own thread, so ``--num-envs N`` keeps N requests in flight.

    Args:
        model: the server's model name.
        base_url: the server, e.g. ``http://localhost:8000/v1`` (None: api.openai.com).
        style, temperature, history_length: see `LLMAgent`.
        max_new_tokens: ``max_tokens`` of each request (default 64 for hiper, 256 for react).
        timeout: seconds one request may take before its episode fails (an infrastructure failure).
        max_retries: retries of a request that failed in a way a retry can fix.
        retry_backoff: seconds before the first retry (doubling after each).
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        style: str = "hiper",
        temperature: float = 0.0,
        max_new_tokens: int | None = None,
        history_length: int = 2,
        timeout: float = 120.0,
        max_retries: int = 3,
        retry_backoff: float = 1.0,
    ) -> None:
        super().__init__(style=style, temperature=temperature, history_length=history_length)
        try:
            import openai
        except ImportError as err:
            raise SetupError('openai:<model> needs the openai client: pip install "hiper[bench]"') from err
        key = os.environ.get("OPENAI_API_KEY")
        if not key:
            raise SetupError("set OPENAI_API_KEY (any non-empty value for a server without authentication)")
        if timeout <= 0 or max_retries < 0 or retry_backoff < 0:
            raise SetupError(
                f"--request-timeout must be > 0, --max-retries and --retry-backoff >= 0; got {timeout}, "
                f"{max_retries}, {retry_backoff}"
            )
        self.model, self.base_url = model, base_url
        self.timeout, self.max_retries, self.retry_backoff = timeout, max_retries, retry_backoff
        self.max_new_tokens = max_new_tokens or _DEFAULT_TOKENS[style]
        # the client's own retries are off: ours know which failures a retry may repeat work for
        self.client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)
        self._pool: ThreadPoolExecutor | None = None
        self._steps: dict[int, int] = {}

    def preflight(self) -> None:
        """One short request (``max_tokens=1``, no retry): the run starts only if the server answers it."""
        try:
            self._create([{"role": "user", "content": "Say OK."}], max_tokens=1, seed=0)
        except Exception as err:  # noqa: BLE001  (any failure stops the run before it starts, with its message)
            where = self.base_url or "api.openai.com"
            raise SetupError(
                f"the server at {where} did not answer a test request for model {self.model!r}: "
                f"{describe_api_error(err, self.timeout)}"
            ) from err

    def setup(self, num_slots: int, env_id: str) -> None:
        """See `BenchAgent.setup`."""
        super().setup(num_slots, env_id)
        self._pool = ThreadPoolExecutor(max_workers=max(1, num_slots), thread_name_prefix="hiper-bench-openai")

    def begin(self, slot: int, start: EpisodeStart) -> None:
        """See `BenchAgent.begin`."""
        super().begin(slot, start)
        self._steps[slot] = 0

    def _create(self, messages: list[dict[str, str]], *, max_tokens: int, seed: int) -> Any:
        return self.client.chat.completions.create(
            model=self.model,
            messages=messages,  # type: ignore[arg-type]
            temperature=self.temperature,
            max_tokens=max_tokens,
            seed=seed,
            stop=[STOP],
        )

    def _request(self, prompt: str, seed: int) -> Completion:
        """One reply, retried as the module docstring says; a failure raises `InfrastructureError`."""
        import openai

        t0 = time.perf_counter()
        for attempt in range(self.max_retries + 1):
            try:
                response = self._create(
                    [{"role": "user", "content": prompt}], max_tokens=self.max_new_tokens, seed=seed
                )
                break
            except openai.APITimeoutError as err:
                raise InfrastructureError(describe_api_error(err, self.timeout)) from err
            except openai.APIStatusError as err:
                retry = err.status_code in RETRY_STATUSES
                error: Exception = err
            except openai.APIConnectionError as err:
                retry, error = True, err
            except openai.APIError as err:  # a reply the client cannot read (not JSON, not a completion)
                retry, error = False, err
            if not retry or attempt == self.max_retries:
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                raise InfrastructureError(describe_api_error(error, self.timeout) + tries) from error
            wait = _retry_after(error)
            time.sleep(min(_MAX_BACKOFF_S, wait if wait is not None else self.retry_backoff * 2**attempt))
        if not response.choices:
            raise InfrastructureError(f"the server returned no choices: {str(response)[:_MAX_BODY_CHARS]}")
        choice = response.choices[0]
        text = choice.message.content or ""
        meta: dict[str, Any] = {
            "request_s": time.perf_counter() - t0,
            "attempts": attempt + 1,
            "finish_reason": choice.finish_reason,
        }
        usage = getattr(response, "usage", None)
        if usage is not None and getattr(usage, "completion_tokens", None) is not None:
            meta["completion_tokens"] = usage.completion_tokens
        # the server drops the stop string from the reply: put the closing tag back so the blocks parse
        if choice.finish_reason == "stop" and open_tag("action") in text.lower() and STOP not in text.lower():
            text += STOP
            meta["stop_restored"] = True
        return Completion(text, meta)

    def complete(self, slots: Sequence[int], prompts: Sequence[str], infos: Sequence[dict[str, Any]]) -> list[Any]:
        """One request per slot, concurrently; a failed request becomes that slot's exception."""
        assert self._pool is not None, "setup() first"
        futures = []
        for slot, prompt in zip(slots, prompts, strict=True):
            # per-episode, per-step seed: a sampling server gives the same reply whatever --num-envs is
            seed = (self._seeds[slot] + 7919 * self._steps[slot]) % 2**31
            self._steps[slot] += 1
            futures.append(self._pool.submit(self._request, prompt, seed))
        out: list[Any] = []
        for future in futures:
            try:
                out.append(future.result())
            except Exception as err:  # noqa: BLE001  (that episode fails, the run goes on)
                out.append(err)
        return out

    def describe(self) -> dict[str, Any]:
        """See `BenchAgent.describe`."""
        return {**super().describe(), "max_new_tokens": self.max_new_tokens, "base_url": self.base_url}

    def close(self) -> None:
        """Stop the request threads (a request in flight runs to its end or its timeout: it cannot be cut)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
