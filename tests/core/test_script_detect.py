import json
import re
from pathlib import Path

import opencc
import pytest

from core.datafiles import SAMPLES
from core.script_detect import (
    answer_language, count_simplified, derive_sets, script_counts, script_shares, simplified_only,
    SIMPLIFIED_FILE, TRADITIONAL_FILE,
)

# Correct Traditional (Taiwan) sentences dense in characters that are valid in both scripts.
SHARED_TC = [
    "皇后在台上只說了一句話，大家就安靜下來。",
    "這個系統的介面很乾淨，只要按一下就能干涉流程。",
    "他面對困難從不退縮，里長也很佩服他。",
    "范先生與于小姐週末在台中的松樹下野餐。",
    "請注意，公司制度只准許員工借用一台電腦。",
    "余光中的詩集裡，云云之語不多，卻征服了讀者。",
    "我們只有一隻貓，牠每天早上都在窗台上曬太陽。",
    "後來他回到台南，在系上教書，面試了好幾位學生。",
    "麵包店後面有一條小巷，巷子裡只有三戶人家。",
    "颱風過後，台北的街道上到處都是折斷的樹枝。",
    "這份報告的內容很扎實，值得一讀再讀。",
    "早上喝一碗虱目魚粥，下午再來一碗豆花。",
]


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[。！？])", text.replace("\n", "")) if len(s) >= 8]


@pytest.fixture(scope="module")
def labelled():
    """(text, is_simplified) pairs: bundled TC prose and dialogue, shared-character TC, and their t2s forms."""
    tc = _sentences(SAMPLES["tc_corpus"].read_text(encoding="utf-8"))
    for line in SAMPLES["conversations"].read_text(encoding="utf-8").splitlines():
        for turn in json.loads(line).get("messages", []):
            tc += _sentences(turn["content"])
    tc += SHARED_TC
    t2s = opencc.OpenCC("t2s")
    sc = [s for s in (t2s.convert(t) for t in tc) if s not in tc]
    return [(t, False) for t in tc] + [(s, True) for s in sc]


def test_characters_valid_in_both_scripts_are_not_simplified():
    assert simplified_only("后里干面台只系于余云松范周折征注制准借") == []
    assert simplified_only("后来我们在这里干活，面对台风") == ["来", "们", "这", "对", "风"]
    assert simplified_only("这这这个") == ["这", "个"]
    assert count_simplified("这这这个") == 4


def test_detector_precision_and_recall_on_labelled_sentences(labelled):
    assert len(labelled) > 500
    flagged = [(bool(simplified_only(text)), truth) for text, truth in labelled]
    true_pos = sum(1 for f, t in flagged if f and t)
    precision = true_pos / max(1, sum(1 for f, _ in flagged if f))
    recall = true_pos / sum(1 for _, t in flagged if t)
    # Measured on this set (1880 sentences): precision 0.9989 (庄 of 客家庄), recall 0.9955 (t2s changed
    # only characters valid in both scripts, e.g. 裡→里, so nothing Simplified-only is left to find).
    assert precision >= 0.99, precision
    assert recall >= 0.99, recall
    print(f"precision {precision:.4f} recall {recall:.4f} on {len(labelled)} sentences")
    for text in SHARED_TC:
        assert simplified_only(text) == [], text


def test_s2twp_output_has_no_simplified_only_characters(labelled):
    s2twp = opencc.OpenCC("s2twp")
    for text, is_sc in labelled:
        if is_sc:
            assert simplified_only(s2twp.convert(text)) == [], text


def test_script_shares_count_letters_only():
    counts = script_counts("後來 abc 后 这 123 ！ дом")
    assert counts == {"tc": 2, "sc": 1, "shared_cjk": 1, "en": 3, "other": 3}
    shares = script_shares("後來 abc 后 这 123 ！ дом")
    assert abs(sum(shares.values()) - 1) < 1e-9 and shares["en"] == 0.3
    assert script_shares("123 !?") == {"tc": 0.0, "sc": 0.0, "shared_cjk": 0.0, "en": 0.0, "other": 0.0}
    assert script_counts("𫐷")["sc"] == 1  # supplementary-plane Simplified characters are counted too


@pytest.mark.parametrize("text, language", [
    ("今天天氣很好，我們去散步吧。", "zh"),
    ("今天天气很好，我们去散步吧。", "zh"),
    ("The weather is nice today, let's go for a walk.", "en"),
    ("我用 Python 寫程式", "zh"),
    ("I visited 台北 last summer with my family.", "en"),
    ("12345 !!!", "unknown"),
    ("こんにちは、ありがとうございます", "unknown"),
])
def test_answer_language(text, language):
    assert answer_language(text) == language


@pytest.mark.skipif(not (Path(opencc.__file__).parent / "clib" / "bin" / "opencc_dict").exists(),
                    reason="this OpenCC build ships no opencc_dict tool")
def test_shipped_character_sets_match_installed_opencc():
    simplified, traditional = derive_sets()
    assert SIMPLIFIED_FILE.read_text(encoding="utf-8").strip() == simplified
    assert TRADITIONAL_FILE.read_text(encoding="utf-8").strip() == traditional
