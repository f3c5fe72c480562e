"""``bailong serve`` as a real process on a loopback port, driven by the official ``openai`` client."""

import json
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest

from tests.jobs.conftest import REPO, free_port, wait_for

KEY = "test-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory, tiny_model_dir):
    home = tmp_path_factory.mktemp("serve-home")
    port = free_port()
    log = home / "serve.log"
    # A file, not a pipe: nobody reads a pipe while tests run, and a full one would stall the server.
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "core.cli", "serve", str(tiny_model_dir), "--port", str(port), "--api-key", KEY,
             "--home", str(home)], cwd=REPO, stdout=out, stderr=subprocess.STDOUT, text=True,
        )
    base = f"http://127.0.0.1:{port}/v1"

    def up():
        if process.poll() is not None:
            raise AssertionError(f"bailong serve exited: {log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 120, "bailong serve to answer")
        yield base, str(tiny_model_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def client(base, key=KEY):
    return openai.OpenAI(base_url=base, api_key=key, max_retries=0, timeout=120)


def test_openai_client_chats_with_and_without_streaming(server):
    base, model = server
    api = client(base)
    assert [m.id for m in api.models.list().data] == [model]
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}]
    done = api.chat.completions.create(model=model, messages=messages, temperature=0, max_tokens=10)
    text = done.choices[0].message.content
    assert done.choices[0].finish_reason == "length" and done.usage.completion_tokens == 10
    assert done.usage.prompt_tokens > 5 and done.usage.total_tokens == done.usage.prompt_tokens + 10

    chunks = list(api.chat.completions.create(model=model, messages=messages, temperature=0, max_tokens=10, stream=True,
                                              stream_options={"include_usage": True}))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed == text and len(chunks) > 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 10

    # Bailong's own settings ride along as extra fields; a stop string ends the reply early.
    cut = api.chat.completions.create(model=model, messages=messages, temperature=0, max_tokens=10, stop=[text[2:4]],
                                      extra_body={"top_k": 5, "repetition_penalty": 1.0})
    assert cut.choices[0].finish_reason == "stop" and text[2:4] not in cut.choices[0].message.content


def test_concurrent_requests_queue_and_all_finish(server):
    base, model = server
    api, results = client(base), []

    def ask(i):
        reply = api.chat.completions.create(model=model, messages=[{"role": "user", "content": f"count {i}"}],
                                            temperature=0, max_tokens=6)
        results.append(reply.usage.completion_tokens)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert results == [6, 6, 6]


def test_bad_requests_get_openai_style_errors(server):
    base, model = server
    api = client(base)
    with pytest.raises(openai.AuthenticationError) as caught:
        client(base, key="wrong").chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
    cases = [
        ({"messages": []}, "messages", "the conversation is empty"),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": 5}, "temperature", "temperature: 5 is not allowed"),
        ({"messages": [{"role": "user", "content": "  "}]}, "messages", "the message is empty"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, "max_tokens", "max_new_tokens: 0"),
    ]
    for body, param, message in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            api.chat.completions.create(model=model, **body)
        assert caught.value.status_code == 400 and caught.value.param == param and message in caught.value.message
    with pytest.raises(openai.NotFoundError):
        api.chat.completions.create(model="someone-else", messages=[{"role": "user", "content": "hi"}])
    raw = httpx.post(f"{base}/chat/completions", content=b"{not json", headers={"Authorization": f"Bearer {KEY}"})
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"


def test_serve_refuses_unknown_models_and_open_hosts_in_one_line(tmp_path):
    started = time.monotonic()
    for args, message in [(["job:nobody"], "error: unknown model 'job:nobody'"),
                          (["default", "--host", "0.0.0.0"], "error: --host 0.0.0.0 makes the API reachable")]:
        done = subprocess.run([sys.executable, "-m", "core.cli", "serve", *args, "--home", str(tmp_path)],
                              cwd=REPO, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and done.stderr.startswith(message) and len(done.stderr.strip().splitlines()) == 1
    assert time.monotonic() - started < 120
    added = subprocess.run([sys.executable, "-m", "core.cli", "models", "add", str(REPO / "no-such-folder"), "--home", str(tmp_path)],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert added.returncode == 2 and "neither 'default', an existing model folder, nor a hub id" in added.stderr
    listing = subprocess.run([sys.executable, "-m", "core.cli", "models", "list", "--json", "--home", str(tmp_path)],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
    assert json.loads(listing.stdout)[0]["name"] == "default"


def test_terminal_chat_keeps_the_conversation_until_reset(tmp_path, tiny_model_dir):
    done = subprocess.run(
        [sys.executable, "-m", "core.cli", "chat", str(tiny_model_dir), "--max-new-tokens", "3", "--temperature", "0",
         "--home", str(tmp_path)],
        input="hello\n\n/reset\nagain\n/exit\n", cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("bot> ") == 2 and "(conversation cleared)" in done.stderr
    assert done.stderr.count("(3 tokens, ") == 2
    bad = subprocess.run([sys.executable, "-m", "core.cli", "chat", "default", "--temperature", "9", "--home", str(tmp_path)],
                         cwd=REPO, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip() == "error: temperature: 9.0 is not allowed; expected a number from 0 to 2"
