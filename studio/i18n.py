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
    "vocab.placeholder": "Vocabulary extension arrives in a later release; runs use the base model's tokenizer.",
    "preset": "Preset", "load_yaml": "Load YAML", "save_yaml": "Save YAML", "yaml_preview": "YAML preview",
    "upload_data": "Add training files", "start": "Start", "validation": "Validation",
    "jobs.list": "Jobs", "job": "Job", "loss_curve": "Loss curve", "log_tail": "Log (last lines)",
    "cancel": "Cancel", "resume": "Resume", "clone": "Clone config", "delete": "Delete",
    "move_up": "Move up", "move_down": "Move down", "refresh": "Refresh",
    "filter.status": "Status", "filter.since": "From (YYYY-MM-DD)", "filter.until": "Until (YYYY-MM-DD)",
    "filter.base_model": "Base model", "filter.text": "Search", "history.jobs": "All jobs",
    "detail.config": "Configuration", "detail.metrics": "Metrics", "detail.artifacts": "Artifacts",
    "detail.lineage": "Lineage", "detail.summary": "Job",
}

ZH_TW = {
    "title": "白龍工作室", "workspace": "工作區",
    "tab.train": "訓練", "tab.jobs": "工作", "tab.history": "歷史",
    "group.run": "執行", "group.model": "模型", "group.data": "資料", "group.vocab": "詞彙表",
    "group.quant": "量化", "group.lora": "LoRA", "group.train": "最佳化",
    "vocab.placeholder": "詞彙擴充將於後續版本提供；目前使用基礎模型的分詞器。",
    "preset": "預設組合", "load_yaml": "載入 YAML", "save_yaml": "儲存 YAML", "yaml_preview": "YAML 預覽",
    "upload_data": "加入訓練檔案", "start": "開始", "validation": "檢查結果",
    "jobs.list": "工作列表", "job": "工作", "loss_curve": "損失曲線", "log_tail": "紀錄（最後幾行）",
    "cancel": "取消", "resume": "繼續", "clone": "複製設定", "delete": "刪除",
    "move_up": "上移", "move_down": "下移", "refresh": "重新整理",
    "filter.status": "狀態", "filter.since": "起始日期（YYYY-MM-DD）", "filter.until": "結束日期（YYYY-MM-DD）",
    "filter.base_model": "基礎模型", "filter.text": "搜尋", "history.jobs": "所有工作",
    "detail.config": "設定", "detail.metrics": "指標", "detail.artifacts": "產出檔案",
    "detail.lineage": "來源", "detail.summary": "工作",
}

I18N = gr.I18n(en=EN, **{"zh-TW": ZH_TW, "zh": ZH_TW})


def T(key: str):
    """A label Gradio translates in the browser."""
    return I18N(key)
