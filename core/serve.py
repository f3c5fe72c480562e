"""An OpenAI-compatible HTTP API over one chat engine: ``/v1/models`` and ``/v1/chat/completions``.

Any OpenAI client (the ``openai`` package, curl, the bench judge) can talk to a Bailong model through it,
with or without streaming (server-sent events, usage counts on the last chunk). Requests are checked
before anything runs and refused with OpenAI-style error JSON (400 for a malformed request, 401 for a
wrong key, 404 for another model). The engine runs one generation at a time, so concurrent requests
wait their turn. Bailong's own settings ``top_k`` and ``repetition_penalty`` may be sent as extra fields.
"""

import json
import time
import uuid
from typing import Any, Callable, Iterator

from core.errors import BailongError
from core.inference import ChatEngine, GenerationError, GenerationSettings, validate_messages

OPENAI_TO_BAILONG = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "seed": "seed",
                     "repetition_penalty": "repetition_penalty", "max_tokens": "max_new_tokens",
                     "max_completion_tokens": "max_new_tokens"}


class RequestError(BailongError):
    reason = "bad request"

    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.param, self.status, self.code = param, status, code


def _text_content(content: Any, where: str) -> Any:
    """OpenAI allows content as a list of parts; only text parts mean anything to a text model."""
    if isinstance(content, list):
        if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content):
            raise RequestError(f"{where}.content: only text parts are supported", where)
        return "".join(p["text"] for p in content)
    return content


def parse_request(body: Any, served_name: str) -> tuple[list[dict[str, str]], GenerationSettings, bool, bool]:
    """``(messages, settings, stream, include_usage)`` from a chat-completions body, or a ``RequestError``."""
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("model: required, the name of the served model", "model")
    if model != served_name:
        raise RequestError(f"model {model!r} is not served here; this server serves {served_name!r}", "model", 404, "model_not_found")
    raw = body.get("messages")
    if isinstance(raw, list):
        raw = [dict(m, content=_text_content(m.get("content"), f"messages[{i}]")) if isinstance(m, dict) else m
               for i, m in enumerate(raw)]
    try:
        messages = validate_messages(raw)
    except GenerationError as error:
        raise RequestError(str(error), "messages") from None
    if body.get("n", 1) != 1:
        raise RequestError("n: only 1 choice per request is supported", "n")
    values: dict[str, Any] = {}
    for key, setting in OPENAI_TO_BAILONG.items():
        if body.get(key) is not None:
            values[setting] = body[key]
    stop = body.get("stop")
    if stop is not None:
        values["stop"] = [stop] if isinstance(stop, str) else stop
    try:
        settings = GenerationSettings.from_dict(values)
    except (GenerationError, TypeError) as error:
        field = str(error).split(":", 1)[0]
        raise RequestError(str(error), next((k for k, v in OPENAI_TO_BAILONG.items() if v == field and k in body), field)) from None
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise RequestError("stream: expected true or false", "stream")
    options = body.get("stream_options") or {}
    include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
    return messages, settings, stream, include_usage


def error_body(message: str, param: str | None = None, code: str | None = None, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _usage(reply) -> dict[str, int]:
    return {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens}


def completion_body(reply, model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()), "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": reply.finish_reason}],
        "usage": _usage(reply),
    }


def sse_chunks(stream, model: str, include_usage: bool) -> Iterator[str]:
    """Server-sent events for one streamed reply, ending with ``[DONE]``."""
    ident, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""})
        for delta in stream:
            yield chunk({"content": delta})
        reply = stream.reply
        yield chunk({}, reply.finish_reason, usage=_usage(reply))
        if include_usage:
            body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model, "choices": [],
                    "usage": _usage(reply)}
            yield f"data: {json.dumps(body)}\n\n"
    except BailongError as error:
        yield f"data: {json.dumps(error_body(str(error), kind='server_error'))}\n\n"
    finally:
        stream.close()
    yield "data: [DONE]\n\n"


def create_app(model_name: str, load_engine: Callable[[], ChatEngine], *, api_key: str | None = None):
    """The FastAPI app serving ``model_name``; ``load_engine`` is called once, on the first need."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.concurrency import run_in_threadpool

    app = FastAPI(title="Bailong Studio", docs_url=None, redoc_url=None)
    engines: list[ChatEngine] = []
    started = int(time.time())

    def engine() -> ChatEngine:
        if not engines:
            engines.append(load_engine())
        return engines[0]

    def refuse(error: RequestError) -> JSONResponse:
        return JSONResponse(error_body(str(error), error.param, error.code), status_code=error.status)

    def authorised(request: Request) -> JSONResponse | None:
        if api_key is None or request.headers.get("authorization", "") == f"Bearer {api_key}":
            return None
        return JSONResponse(error_body("Incorrect API key provided.", code="invalid_api_key"), status_code=401)

    @app.get("/v1/models")
    async def models(request: Request):
        if (denied := authorised(request)) is not None:
            return denied
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": started, "owned_by": "bailong"}]}

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        if (denied := authorised(request)) is not None:
            return denied
        try:
            body = await request.json()
        except ValueError:
            return refuse(RequestError("the request body is not valid JSON"))
        try:
            messages, settings, stream, include_usage = parse_request(body, model_name)
            chat = await run_in_threadpool(engine)
            if stream:
                replies = await run_in_threadpool(chat.stream, messages, settings)
                return StreamingResponse(sse_chunks(replies, model_name, include_usage), media_type="text/event-stream")
            reply = await run_in_threadpool(chat.generate, messages, settings)
        except RequestError as error:
            return refuse(error)
        except GenerationError as error:
            return refuse(RequestError(str(error), "messages"))
        except BailongError as error:
            return JSONResponse(error_body(str(error), kind="server_error"), status_code=500)
        return completion_body(reply, model_name)

    app.engine = engine  # type: ignore[attr-defined]  # the CLI loads the model before listening
    return app


def serve(app, host: str, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning")
