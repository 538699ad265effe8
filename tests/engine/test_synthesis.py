import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from engine.errors import EngineError
from engine.synthesis import (
    DIVERSIFY,
    DIVERSIFY_MAX_PER_TRAIT,
    FROM_TRAITS,
    PER_POLE,
    PER_SAMPLE,
    ChatCompletionsGenerator,
    ExistingSample,
    OfflineGenerator,
    SynthesisError,
    SynthesisRequest,
    TraitSpec,
    make_generator,
)
from engine.synthesis.chat import extract_json_items
from engine.synthesis.offline import split_sentences

TONE = TraitSpec("tone", "Tone", "How warm and courteous the reply feels", "warm", "cold")
CLARITY = TraitSpec("clarity", "Clarity")

EXISTING = (
    ExistingSample("tone", "Thank you for writing. We are glad to help. Have a lovely day!", 1.0),
    ExistingSample("tone", "Happy to sort this out for you. Your refund is on its way.", 0.9),
    ExistingSample("tone", "What a pleasure to hear from you. The fix ships tomorrow.", 0.8),
    ExistingSample("tone", "Read the manual. We will not answer again.", 0.0),
    ExistingSample("tone", "Your problem is not our concern. Stop emailing.", 0.1),
    ExistingSample("tone", "Ticket closed. No further action.", 0.2),
    ExistingSample("tone", "It is fine I guess.", 0.5),
    ExistingSample("clarity", "Step one: open settings. Step two: press reset.", 1.0),
    ExistingSample("clarity", "Things happen and stuff occurs, maybe, in some order.", 0.0),
)


def request(synth_type: str, effort: str = "high", traits=(TONE, CLARITY), samples=EXISTING) -> SynthesisRequest:
    return SynthesisRequest(synth_type=synth_type, traits=tuple(traits), effort=effort, samples=tuple(samples))


# ---- offline generator -------------------------------------------------------------------------


def test_offline_from_traits_is_deterministic_and_counts_scale_with_effort():
    gen = OfflineGenerator()
    first = gen.generate(request(FROM_TRAITS))
    assert first == OfflineGenerator().generate(request(FROM_TRAITS))
    for effort, per_pole in PER_POLE.items():
        out = gen.generate(request(FROM_TRAITS, effort))
        for trait in ("tone", "clarity"):
            assert sum(1 for s in out if s.trait_key == trait and s.quality == 1.0) == per_pole
            assert sum(1 for s in out if s.trait_key == trait and s.quality == 0.0) == per_pole
    assert PER_POLE == {"low": 4, "medium": 8, "high": 12, "xhigh": 16, "max": 24}


def test_offline_from_traits_uses_labels_and_description():
    out = OfflineGenerator().generate(request(FROM_TRAITS, "max", traits=(TONE,)))
    positives = [s.text for s in out if s.quality == 1.0]
    negatives = [s.text for s in out if s.quality == 0.0]
    assert all("warm" in t for t in positives)
    assert all("cold" in t for t in negatives)
    assert any("How warm and courteous the reply feels." in t for t in out_texts(out))
    assert len(set(out_texts(out))) == len(out)


def out_texts(out):
    return [s.text for s in out]


def test_offline_output_depends_on_the_input():
    a = OfflineGenerator().generate(request(FROM_TRAITS, traits=(TONE,)))
    b = OfflineGenerator().generate(request(FROM_TRAITS, traits=(TraitSpec("tone", "Tone", "", "kind", "rude"),)))
    assert out_texts(a) != out_texts(b)


def test_offline_diversify_keeps_labels_and_never_duplicates():
    out = OfflineGenerator().generate(request(DIVERSIFY, "max"))
    assert out == OfflineGenerator().generate(request(DIVERSIFY, "max"))
    existing = {" ".join(s.text.split()) for s in EXISTING}
    texts = out_texts(out)
    assert len(texts) == len(set(texts))
    assert not existing & set(texts)
    tone = [e for e in EXISTING if e.trait_key == "tone"]
    positive_sentences = {s for e in tone if e.quality > 0.5 for s in split_sentences(e.text)}
    negative_sentences = {s for e in tone if e.quality < 0.5 for s in split_sentences(e.text)}
    for sample in (s for s in out if s.trait_key == "tone"):
        sentences = set(split_sentences(sample.text))
        if sample.quality > 0.5:
            assert sentences <= positive_sentences  # only material from its own pole
        else:
            assert sample.quality < 0.5
            assert sentences <= negative_sentences
    assert "It is fine I guess." not in " ".join(texts)  # quality 0.5 has no pole


def test_offline_diversify_counts_scale_with_effort():
    sided = sum(1 for s in EXISTING if s.trait_key == "tone" and s.quality != 0.5)
    for effort, per_sample in PER_SAMPLE.items():
        out = OfflineGenerator().generate(request(DIVERSIFY, effort, traits=(TONE,)))
        assert len(out) == sided * per_sample


def test_offline_diversify_is_capped_per_trait():
    many = tuple(ExistingSample("tone", f"Reply number {i} is kind. We thank customer {i}.", 1.0) for i in range(60))
    many += tuple(ExistingSample("tone", f"Reply number {i} is rude. Go away customer {i}.", 0.0) for i in range(60))
    out = OfflineGenerator().generate(request(DIVERSIFY, "max", traits=(TONE,), samples=many))
    assert len(out) == DIVERSIFY_MAX_PER_TRAIT
    assert {s.quality for s in out} == {0.0, 1.0}  # the budget is shared by both poles


def test_request_rejects_unknown_type_and_effort():
    with pytest.raises(SynthesisError):
        SynthesisRequest(synth_type="enrich", traits=(TONE,))
    with pytest.raises(SynthesisError):
        SynthesisRequest(synth_type=FROM_TRAITS, traits=(TONE,), effort="huge")
    assert issubclass(SynthesisError, EngineError)


def test_make_generator_picks_chat_only_when_fully_configured():
    assert isinstance(make_generator(), OfflineGenerator)
    assert isinstance(make_generator(base_url="http://127.0.0.1:1/v1"), OfflineGenerator)
    assert isinstance(make_generator(model="m"), OfflineGenerator)
    chat = make_generator(base_url="http://127.0.0.1:1/v1/", model="m", api_key="k", timeout=5)
    assert isinstance(chat, ChatCompletionsGenerator)
    assert chat.url == "http://127.0.0.1:1/v1/chat/completions"


# ---- chat-completions generator against a real local server ----------------------------------


class ChatServer:
    """A tiny OpenAI-compatible endpoint: records every request and answers from a queue."""

    def __init__(self):
        self.requests: list[dict] = []
        self.replies: list[tuple[int, str | dict, float]] = []  # (status, content or raw body, delay)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                server.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
                status, reply, delay = server.replies.pop(0) if server.replies else (500, "{}", 0)
                time.sleep(delay)
                if isinstance(reply, dict):  # a chat completion whose message content is reply["content"]
                    payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply["content"]}}]})
                else:
                    payload = reply
                data = payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def reply(self, content: str, status: int = 200, delay: float = 0.0):
        self.replies.append((status, {"content": content}, delay))

    def reply_raw(self, body: str, status: int = 200):
        self.replies.append((status, body, 0.0))


@pytest.fixture
def chat_server():
    server = ChatServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


def test_chat_from_traits_sends_a_proper_request_and_parses_fenced_json(chat_server):
    items = [
        {"text": "So lovely to hear from you!", "side": "positive"},
        {"text": "Whatever. Figure it out.", "side": "negative"},
        {"text": "Warmest thanks for your patience.", "side": "warm"},
        {"text": "   ", "side": "positive"},
        {"text": "No side given"},
        {"text": "Read the manual. We will not answer again.", "side": "negative"},  # existing sample
    ]
    chat_server.reply("Sure! Here you go:\n```json\n" + json.dumps(items) + "\n```\nEnjoy.")
    gen = ChatCompletionsGenerator(chat_server.base_url, "writer-1", api_key="sk-test", timeout=5)
    out = gen.generate(request(FROM_TRAITS, "low", traits=(TONE,)))
    assert [(s.trait_key, s.text, s.quality) for s in out] == [
        ("tone", "So lovely to hear from you!", 1.0),
        ("tone", "Whatever. Figure it out.", 0.0),
        ("tone", "Warmest thanks for your patience.", 1.0),
    ]
    (sent,) = chat_server.requests
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer sk-test"
    assert sent["json"]["model"] == "writer-1"
    roles = [m["role"] for m in sent["json"]["messages"]]
    assert roles == ["system", "user"]
    prompt = sent["json"]["messages"][1]["content"]
    for needle in ("Tone", "warm", "cold", "How warm and courteous", f"Write {PER_POLE['low']} distinct"):
        assert needle in prompt


def test_chat_caps_each_pole_at_the_effort_count(chat_server):
    items = [{"text": f"Kind reply {i}", "side": "positive"} for i in range(10)]
    chat_server.reply(json.dumps({"samples": items}))
    gen = ChatCompletionsGenerator(chat_server.base_url, "m", timeout=5)
    out = gen.generate(request(FROM_TRAITS, "low", traits=(TONE,)))
    assert [s.text for s in out] == [f"Kind reply {i}" for i in range(PER_POLE["low"])]
    assert "Authorization" not in chat_server.requests[0]["headers"]


def test_chat_diversify_keeps_the_source_label(chat_server):
    items = [
        {"text": "Delighted to help, your refund is already sent.", "side": "positive", "source": 2},
        {"text": "We do not care. Stop writing.", "side": "negative", "source": 5},
        {"text": "Mismatched side for a warm source.", "side": "negative", "source": 1},
        {"text": "No source but a clear side.", "side": "positive"},
    ]
    chat_server.reply(json.dumps(items))
    gen = ChatCompletionsGenerator(chat_server.base_url, "m", api_key="k", timeout=5)
    out = gen.generate(request(DIVERSIFY, "low", traits=(TONE,)))
    assert [(s.text, s.quality) for s in out] == [
        ("Delighted to help, your refund is already sent.", 0.9),
        ("We do not care. Stop writing.", 0.1),
        ("No source but a clear side.", 1.0),
    ]
    prompt = chat_server.requests[0]["json"]["messages"][1]["content"]
    assert '2. [positive] "Happy to sort this out for you. Your refund is on its way."' in prompt
    assert "It is fine I guess." not in prompt


def test_chat_garbage_reply_raises_after_bounded_attempts(chat_server):
    chat_server.reply("I cannot help with that.")
    chat_server.reply("still no json here")
    chat_server.reply("[]")  # never reached
    gen = ChatCompletionsGenerator(chat_server.base_url, "m", timeout=5, max_attempts=2)
    with pytest.raises(SynthesisError):
        gen.generate(request(FROM_TRAITS, traits=(TONE,)))
    assert len(chat_server.requests) == 2


def test_chat_reply_without_usable_samples_raises(chat_server):
    chat_server.reply(json.dumps([{"text": "x", "side": "sideways"}]))
    with pytest.raises(SynthesisError):
        ChatCompletionsGenerator(chat_server.base_url, "m", timeout=5).generate(request(FROM_TRAITS, traits=(TONE,)))


def test_chat_non_completion_body_raises(chat_server):
    chat_server.reply_raw("<html>gateway</html>")
    chat_server.reply_raw(json.dumps({"object": "error"}))
    with pytest.raises(SynthesisError):
        ChatCompletionsGenerator(chat_server.base_url, "m", timeout=5).generate(request(FROM_TRAITS, traits=(TONE,)))
    assert len(chat_server.requests) == 2


def test_chat_client_error_is_not_retried(chat_server):
    chat_server.reply_raw(json.dumps({"error": {"message": "bad key"}}), status=401)
    gen = ChatCompletionsGenerator(chat_server.base_url, "m", api_key="wrong", timeout=5, max_attempts=3)
    with pytest.raises(SynthesisError, match="401"):
        gen.generate(request(FROM_TRAITS, traits=(TONE,)))
    assert len(chat_server.requests) == 1


def test_chat_server_error_is_retried_then_succeeds(chat_server):
    chat_server.reply_raw("oops", status=503)
    chat_server.reply(json.dumps([{"text": "Lovely!", "side": "positive"}]))
    out = ChatCompletionsGenerator(chat_server.base_url, "m", timeout=5).generate(request(FROM_TRAITS, traits=(TONE,)))
    assert [s.text for s in out] == ["Lovely!"]
    assert len(chat_server.requests) == 2


def test_chat_timeout_raises(chat_server):
    chat_server.reply("[]", delay=1.0)
    chat_server.reply("[]", delay=1.0)
    gen = ChatCompletionsGenerator(chat_server.base_url, "m", timeout=0.2, max_attempts=1)
    with pytest.raises(SynthesisError):
        gen.generate(request(FROM_TRAITS, traits=(TONE,)))


def test_chat_unreachable_endpoint_raises():
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens on this port any more
    gen = ChatCompletionsGenerator(f"http://127.0.0.1:{port}/v1", "m", timeout=2)
    with pytest.raises(SynthesisError):
        gen.generate(request(FROM_TRAITS, traits=(TONE,)))


@pytest.mark.parametrize(
    "content, expected",
    [
        ('[{"text": "a", "side": "positive"}]', [{"text": "a", "side": "positive"}]),
        ('```json\n[1, 2]\n```', [1, 2]),
        ('Here: {"items": [3]} done', [3]),
        ('noise [not json] then [4, 5] tail', [4, 5]),
    ],
)
def test_extract_json_items_is_lenient(content, expected):
    assert extract_json_items(content) == expected


def test_extract_json_items_rejects_text_without_an_array():
    with pytest.raises(SynthesisError):
        extract_json_items('{"text": "only an object"}')
