"""The studio's words in English and Traditional Chinese (Taiwan).

Gradio translates in the browser: it picks the browser's language and the page footer's Settings panel
switches it. Labels are written as ``T("key")`` so every visible word comes from this one table.
Config field names stay as they are in the YAML (they are what users type); their help text is English.
"""

from __future__ import annotations

import gradio as gr

EN = {
    "title": "Bailong Studio", "workspace": "Workspace",
    "tab.train": "Train", "tab.jobs": "Jobs", "tab.history": "History",
    "group.run": "Run", "group.model": "Model", "group.data": "Data", "group.vocab": "Vocabulary",
    "group.quant": "Quantization", "group.lora": "LoRA", "group.train": "Optimisation",
    "preset": "Preset", "load_yaml": "Load YAML", "save_yaml": "Save YAML", "yaml_preview": "YAML preview",
    "upload_data": "Add training files", "start": "Start", "validation": "Validation",
    "jobs.list": "Jobs", "job": "Job", "loss_curve": "Loss curve", "log_tail": "Log (last lines)",
    "cancel": "Cancel", "resume": "Resume", "clone": "Clone config", "delete": "Delete",
    "move_up": "Move up", "move_down": "Move down", "refresh": "Refresh",
    "filter.status": "Status", "filter.since": "From (YYYY-MM-DD)", "filter.until": "Until (YYYY-MM-DD)",
    "filter.base_model": "Base model", "filter.text": "Search", "history.jobs": "All jobs",
    "detail.config": "Configuration", "detail.metrics": "Metrics", "detail.artifacts": "Artifacts",
    "detail.lineage": "Lineage", "detail.summary": "Job",
    "tab.chat": "Chat", "tab.compare": "Compare", "chat.model": "Model", "chat.settings": "System prompt and generation settings",
    "chat.system": "System prompt", "chat.stop": "Stop strings (separate with |)", "chat.4bit": "Load in 4-bit",
    "chat.unload": "Unload", "chat.message": "Message", "chat.send": "Send", "chat.regenerate": "Regenerate",
    "chat.clear": "Clear", "chat.export_json": "Export JSON", "chat.merge": "Merge adapter into a full model",
    "chat.download": "Conversation", "compare.first": "First model", "compare.second": "Second model",
    "compare.blind": "Blind (names hidden until the vote)", "compare.vote_a": "A is better", "compare.vote_b": "B is better",
    "compare.vote_tie": "Tie", "compare.vote_both_bad": "Both bad", "compare.table": "Votes per model pair",
    "tab.bench": "Bailong-bench", "bench.model": "Model under test", "bench.judge": "Judge (URL or model)",
    "bench.judge_model": "Judge model name (at the URL)", "bench.api_key": "Judge API key (never saved in the database)",
    "bench.benchmark": "Benchmark (bundled, a file or a hub id)", "bench.limit": "Only the first N items",
    "bench.max_new_tokens": "Longest answer (tokens)", "bench.runs": "Runs", "bench.run": "Run",
    "bench.export_csv": "Export CSV", "bench.export_json": "Export JSON", "bench.download": "Download",
    "bench.items": "Items (click one for details)", "bench.compare": "Compare runs", "bench.compare_runs": "Runs to compare",
    "tab.corpus": "Corpus", "corpus.upload": "Files (.txt .jsonl .json .csv .parquet .zip)", "corpus.name": "Corpus name",
    "corpus.on_bad": "Malformed records", "corpus.tokenizer": "Count tokens with (base model)",
    "corpus.options": "Cleaning steps", "corpus.preview": "Preview on a sample", "corpus.import": "Import as a job",
    "corpus.list": "Corpora in this workspace", "corpus.select": "Corpus", "corpus.rename_to": "New name",
    "corpus.rename": "Rename",
    "tab.vocab": "Vocabulary", "vocab.sources": "Learn from (corpora or files)", "vocab.upload": "Add files",
    "vocab.name": "Tokenizer name", "vocab.base_model": "Base model", "vocab.new_tokens": "New tokens",
    "vocab.min_frequency": "Minimum frequency", "vocab.inits": "Measure initial loss for", "vocab.warmup_steps": "Warm-up steps",
    "vocab.eval_chars": "Characters to measure loss on", "vocab.learn": "Learn vocabulary", "vocab.tokenizers": "Extended tokenizers",
    "vocab.search": "Find a token", "vocab.tokens": "New tokens and the pieces they replace",
}

ZH_TW = {
    "title": "白龍工作室", "workspace": "工作區",
    "tab.train": "訓練", "tab.jobs": "工作", "tab.history": "歷史",
    "group.run": "執行", "group.model": "模型", "group.data": "資料", "group.vocab": "詞彙表",
    "group.quant": "量化", "group.lora": "LoRA", "group.train": "最佳化",
    "preset": "預設組合", "load_yaml": "載入 YAML", "save_yaml": "儲存 YAML", "yaml_preview": "YAML 預覽",
    "upload_data": "加入訓練檔案", "start": "開始", "validation": "檢查結果",
    "jobs.list": "工作列表", "job": "工作", "loss_curve": "損失曲線", "log_tail": "紀錄（最後幾行）",
    "cancel": "取消", "resume": "繼續", "clone": "複製設定", "delete": "刪除",
    "move_up": "上移", "move_down": "下移", "refresh": "重新整理",
    "filter.status": "狀態", "filter.since": "起始日期（YYYY-MM-DD）", "filter.until": "結束日期（YYYY-MM-DD）",
    "filter.base_model": "基礎模型", "filter.text": "搜尋", "history.jobs": "所有工作",
    "detail.config": "設定", "detail.metrics": "指標", "detail.artifacts": "產出檔案",
    "detail.lineage": "來源", "detail.summary": "工作",
    "tab.chat": "對話", "tab.compare": "比較", "chat.model": "模型", "chat.settings": "系統提示與生成設定",
    "chat.system": "系統提示", "chat.stop": "停止字串（以 | 分隔）", "chat.4bit": "以 4 位元載入",
    "chat.unload": "卸載", "chat.message": "訊息", "chat.send": "送出", "chat.regenerate": "重新生成",
    "chat.clear": "清除", "chat.export_json": "匯出 JSON", "chat.merge": "將轉接器合併為完整模型",
    "chat.download": "對話紀錄", "compare.first": "第一個模型", "compare.second": "第二個模型",
    "compare.blind": "盲測（投票前隱藏名稱）", "compare.vote_a": "A 較好", "compare.vote_b": "B 較好",
    "compare.vote_tie": "平手", "compare.vote_both_bad": "都不好", "compare.table": "各模型組合的投票結果",
    "tab.bench": "白龍評測", "bench.model": "受測模型", "bench.judge": "評審（網址或模型）",
    "bench.judge_model": "評審模型名稱（網址上的）", "bench.api_key": "評審 API 金鑰（不會存入資料庫）",
    "bench.benchmark": "評測集（內建、檔案或 Hub 名稱）", "bench.limit": "只評前 N 題",
    "bench.max_new_tokens": "回答長度上限（詞元）", "bench.runs": "評測紀錄", "bench.run": "評測",
    "bench.export_csv": "匯出 CSV", "bench.export_json": "匯出 JSON", "bench.download": "下載",
    "bench.items": "題目（點選查看細節）", "bench.compare": "比較評測", "bench.compare_runs": "要比較的評測",
    "tab.corpus": "語料", "corpus.upload": "檔案（.txt .jsonl .json .csv .parquet .zip）", "corpus.name": "語料名稱",
    "corpus.on_bad": "格式錯誤的紀錄", "corpus.tokenizer": "以此基礎模型計算詞元",
    "corpus.options": "清理步驟", "corpus.preview": "以樣本預覽", "corpus.import": "匯入（背景工作）",
    "corpus.list": "工作區中的語料", "corpus.select": "語料", "corpus.rename_to": "新名稱",
    "corpus.rename": "重新命名",
    "tab.vocab": "詞彙表", "vocab.sources": "學習來源（語料或檔案）", "vocab.upload": "加入檔案",
    "vocab.name": "分詞器名稱", "vocab.base_model": "基礎模型", "vocab.new_tokens": "新增詞元數",
    "vocab.min_frequency": "最低出現次數", "vocab.inits": "測量初始損失的初始化方式", "vocab.warmup_steps": "暖身步數",
    "vocab.eval_chars": "測量損失的字元數", "vocab.learn": "學習詞彙", "vocab.tokenizers": "已擴充的分詞器",
    "vocab.search": "搜尋詞元", "vocab.tokens": "新詞元與其取代的片段",
}

I18N = gr.I18n(en=EN, **{"zh-TW": ZH_TW, "zh": ZH_TW})


def T(key: str):
    """A label Gradio translates in the browser."""
    return I18N(key)
