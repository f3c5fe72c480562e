"""The chat engine on real models: streaming equals non-streaming, batches equal single calls, stop strings,
context truncation, one-line errors for bad input, and the LRU model cache."""

import pytest

from core.inference import ChatEngine, GenerationError, GenerationSettings, load_engine, load_model, validate_messages
from core.model_cache import ModelCache
from core.model_spec import ModelSpec

GREEDY = GenerationSettings(temperature=0, max_new_tokens=12)
QUESTIONS = ["What is the capital of France?", "Name a fruit.", "Say hello in one word."]


@pytest.fixture(scope="module")
def default_engine(session_home, default_model_dir):
    return load_engine(ModelSpec("default", "default"), session_home, cache=ModelCache())


@pytest.fixture(scope="module")
def tiny_engine(session_home, tiny_model_dir):
    model, tokenizer = load_model(ModelSpec("tiny", str(tiny_model_dir)), session_home)
    return ChatEngine("tiny", model, tokenizer)


def ask(text, system=None):
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]


@pytest.mark.slow
def test_streamed_reply_equals_the_non_streamed_one_with_greedy_decoding(default_engine):
    conversation = ask("Hello!") + [{"role": "assistant", "content": "Hi! How can I help?"}] + ask("What is the capital of France?")
    reply = default_engine.generate(conversation, GREEDY)
    stream = default_engine.stream(conversation, GREEDY)
    deltas = list(stream)
    assert len(deltas) > 1 and "".join(deltas) == reply.text
    assert "Paris" in reply.text
    assert stream.reply.text == reply.text and stream.reply.completion_tokens == reply.completion_tokens
    assert reply.prompt_tokens > 10 and reply.dropped_turns == 0 and reply.tokens_per_s > 0


@pytest.mark.slow
def test_batched_greedy_generation_equals_one_by_one(default_engine):
    conversations = [ask(q, system="Answer briefly." if i == 2 else None) for i, q in enumerate(QUESTIONS)]
    batched = default_engine.generate_batch(conversations, GREEDY)
    single = [default_engine.generate(c, GREEDY) for c in conversations]
    assert [r.text for r in batched] == [r.text for r in single]
    assert [r.completion_tokens for r in batched] == [r.completion_tokens for r in single]
    assert [r.finish_reason for r in batched] == [r.finish_reason for r in single]


def test_stop_strings_end_the_reply_in_both_modes(tiny_engine):
    # The untrained tiny model sampled at temperature 1 says varied nonsense, the same for the same seed.
    sampled = dict(temperature=1.0, top_k=0, top_p=1.0, repetition_penalty=1.0, max_new_tokens=20, seed=3)
    free = tiny_engine.generate(ask("hello"), GenerationSettings(**sampled))
    assert free.finish_reason == "length" and free.completion_tokens == 20
    stop = free.text[len(free.text) // 2:][:3]
    settings = GenerationSettings(**sampled, stop=[stop])
    cut = tiny_engine.generate(ask("hello"), settings)
    assert cut.text == free.text[:free.text.find(stop)] and cut.finish_reason == "stop"
    assert cut.completion_tokens < 20
    assert "".join(tiny_engine.stream(ask("hello"), settings)) == cut.text


def test_seeded_sampling_repeats(tiny_engine):
    settings = GenerationSettings(max_new_tokens=8, seed=7)
    assert tiny_engine.generate(ask("hi"), settings).text == tiny_engine.generate(ask("hi"), settings).text


def test_long_conversations_drop_their_oldest_turns_but_keep_the_system_prompt(tiny_engine):
    # The tiny model has 256 positions; each exchange below is ~40 tokens.
    history = []
    for i in range(8):
        history += ask(f"Question {i}: " + "tell me more " * 8) + [{"role": "assistant", "content": "More words here. " * 6}]
    conversation = [{"role": "system", "content": "SYSTEM-MARK"}] + history + ask("last question")
    settings = GenerationSettings(temperature=0, max_new_tokens=16)
    reply = tiny_engine.generate(conversation, settings)
    assert reply.dropped_turns > 0 and reply.dropped_turns % 2 == 0
    assert reply.prompt_tokens + settings.max_new_tokens <= 256
    prompt = tiny_engine.prepare(conversation, settings)
    text = tiny_engine.tokenizer.decode(prompt.ids)
    assert "SYSTEM-MARK" in text and "last question" in text and "Question 0" not in text
    assert tiny_engine.stream(conversation, settings).dropped_turns == reply.dropped_turns

    with pytest.raises(GenerationError, match="the last message needs") as caught:
        tiny_engine.generate(ask("word " * 400), settings)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "values, message",
    [
        ({"temperature": -1}, "temperature: -1 is not allowed"),
        ({"temperature": 3}, "temperature: 3 is not allowed; expected a number from 0 to 2"),
        ({"top_p": 0}, "top_p: 0 is not allowed"),
        ({"top_k": 1.5}, "top_k: 1.5 is not allowed"),
        ({"repetition_penalty": 0}, "repetition_penalty: 0 is not allowed"),
        ({"max_new_tokens": 0}, "max_new_tokens: 0 is not allowed"),
        ({"stop": [""]}, "stop: [''] is not allowed"),
        ({"colour": 1}, "unknown generation setting 'colour'"),
    ],
)
def test_bad_generation_settings_are_one_line_errors(values, message):
    with pytest.raises(GenerationError, match=message.replace("[", r"\[").replace("]", r"\]")) as caught:
        GenerationSettings.from_dict(values)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "messages, message",
    [
        ([], "the conversation is empty"),
        ([{"role": "user", "content": "   "}], "the message is empty"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "must end with a user message"),
        ([{"role": "robot", "content": "hi"}], r"messages\[0\]: expected"),
    ],
)
def test_bad_conversations_are_refused(messages, message):
    with pytest.raises(GenerationError, match=message):
        validate_messages(messages)


def test_max_new_tokens_beyond_the_context_is_refused(tiny_engine):
    with pytest.raises(GenerationError, match="leaves no room for the prompt in the model's context of 256"):
        tiny_engine.generate(ask("hi"), GenerationSettings(max_new_tokens=300))


def test_model_cache_evicts_the_least_recently_used_within_its_budget():
    cache = ModelCache(budget_bytes=100)
    loads = []

    def loader(name):
        def load():
            loads.append(name)
            return {"name": name}
        return load

    size = lambda value: 40  # noqa: E731
    first = cache.get("a", loader("a"), size)
    assert cache.get("a", loader("a"), size) is first and loads == ["a"]
    cache.get("b", loader("b"), size)
    cache.get("a", loader("a"), size)  # a is now the most recently used
    cache.get("c", loader("c"), size)  # 120 bytes > 100: b goes
    assert cache.keys() == ["a", "c"] and loads == ["a", "b", "c"]
    assert cache.unload("a") and cache.keys() == ["c"] and not cache.unload("a")
    big = ModelCache(budget_bytes=10)
    big.get("huge", loader("huge"), size)
    assert big.keys() == ["huge"]  # the model asked for is kept even over budget


def test_engines_are_shared_through_the_cache(session_home, tiny_model_dir):
    cache = ModelCache()
    spec = ModelSpec("tiny", str(tiny_model_dir))
    engine = load_engine(spec, session_home, cache=cache)
    assert load_engine(ModelSpec("other name", str(tiny_model_dir)), session_home, cache=cache) is engine
    assert cache.total_bytes() > 0


def test_four_bit_loading_quantises_the_base_and_still_answers(session_home, tiny_model_dir):
    import bitsandbytes as bnb

    engine = load_engine(ModelSpec("tiny", str(tiny_model_dir)), session_home, load_in_4bit=True, cache=ModelCache())
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in engine.model.modules())
    assert engine.generate(ask("hi"), GenerationSettings(temperature=0, max_new_tokens=4)).completion_tokens == 4
