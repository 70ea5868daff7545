"""The table of locale display names (:data:`LOCALE_NAMES`)."""

from __future__ import annotations

__all__ = ["LOCALE_NAMES"]


def _entry(name_en: str, name: str) -> dict[str, str]:
    return {"name_en": name_en, "name": name}


LOCALE_NAMES: dict[str, dict[str, str]] = {
    "af_ZA": _entry("Afrikaans", "Afrikaans"),
    "am_ET": _entry("Amharic", "አማርኛ"),
    "ar_AR": _entry("Arabic", "العربية"),
    "az_AZ": _entry("Azerbaijani", "Azərbaycan dili"),
    "be_BY": _entry("Belarusian", "Беларуская"),
    "bg_BG": _entry("Bulgarian", "Български"),
    "bn_IN": _entry("Bengali", "বাংলা"),
    "bs_BA": _entry("Bosnian", "Bosanski"),
    "ca_ES": _entry("Catalan", "Català"),
    "cs_CZ": _entry("Czech", "Čeština"),
    "cy_GB": _entry("Welsh", "Cymraeg"),
    "da_DK": _entry("Danish", "Dansk"),
    "de_DE": _entry("German", "Deutsch"),
    "el_GR": _entry("Greek", "Ελληνικά"),
    "en_GB": _entry("English (UK)", "English (UK)"),
    "en_US": _entry("English (US)", "English (US)"),
    "es_ES": _entry("Spanish (Spain)", "Español (España)"),
    "es_LA": _entry("Spanish (Latin America)", "Español (Latinoamérica)"),
    "es_MX": _entry("Spanish (Mexico)", "Español (México)"),
    "et_EE": _entry("Estonian", "Eesti"),
    "eu_ES": _entry("Basque", "Euskara"),
    "fa_IR": _entry("Persian", "فارسی"),
    "fi_FI": _entry("Finnish", "Suomi"),
    "fr_CA": _entry("French (Canada)", "Français (Canada)"),
    "fr_FR": _entry("French", "Français"),
    "ga_IE": _entry("Irish", "Gaeilge"),
    "gl_ES": _entry("Galician", "Galego"),
    "gu_IN": _entry("Gujarati", "ગુજરાતી"),
    "he_IL": _entry("Hebrew", "עברית"),
    "hi_IN": _entry("Hindi", "हिन्दी"),
    "hr_HR": _entry("Croatian", "Hrvatski"),
    "hu_HU": _entry("Hungarian", "Magyar"),
    "hy_AM": _entry("Armenian", "Հայերեն"),
    "id_ID": _entry("Indonesian", "Bahasa Indonesia"),
    "is_IS": _entry("Icelandic", "Íslenska"),
    "it_IT": _entry("Italian", "Italiano"),
    "ja_JP": _entry("Japanese", "日本語"),
    "ka_GE": _entry("Georgian", "ქართული"),
    "kk_KZ": _entry("Kazakh", "Қазақ тілі"),
    "km_KH": _entry("Khmer", "ខ្មែរ"),
    "kn_IN": _entry("Kannada", "ಕನ್ನಡ"),
    "ko_KR": _entry("Korean", "한국어"),
    "lt_LT": _entry("Lithuanian", "Lietuvių"),
    "lv_LV": _entry("Latvian", "Latviešu"),
    "mk_MK": _entry("Macedonian", "Македонски"),
    "ml_IN": _entry("Malayalam", "മലയാളം"),
    "mn_MN": _entry("Mongolian", "Монгол"),
    "mr_IN": _entry("Marathi", "मराठी"),
    "ms_MY": _entry("Malay", "Bahasa Melayu"),
    "nb_NO": _entry("Norwegian (bokmål)", "Norsk (bokmål)"),
    "ne_NP": _entry("Nepali", "नेपाली"),
    "nl_NL": _entry("Dutch", "Nederlands"),
    "nn_NO": _entry("Norwegian (nynorsk)", "Norsk (nynorsk)"),
    "pa_IN": _entry("Punjabi", "ਪੰਜਾਬੀ"),
    "pl_PL": _entry("Polish", "Polski"),
    "pt_BR": _entry("Portuguese (Brazil)", "Português (Brasil)"),
    "pt_PT": _entry("Portuguese (Portugal)", "Português (Portugal)"),
    "ro_RO": _entry("Romanian", "Română"),
    "ru_RU": _entry("Russian", "Русский"),
    "si_LK": _entry("Sinhala", "සිංහල"),
    "sk_SK": _entry("Slovak", "Slovenčina"),
    "sl_SI": _entry("Slovenian", "Slovenščina"),
    "sq_AL": _entry("Albanian", "Shqip"),
    "sr_RS": _entry("Serbian", "Српски"),
    "sv_SE": _entry("Swedish", "Svenska"),
    "sw_KE": _entry("Swahili", "Kiswahili"),
    "ta_IN": _entry("Tamil", "தமிழ்"),
    "te_IN": _entry("Telugu", "తెలుగు"),
    "th_TH": _entry("Thai", "ภาษาไทย"),
    "tl_PH": _entry("Filipino", "Filipino"),
    "tr_TR": _entry("Turkish", "Türkçe"),
    "uk_UA": _entry("Ukrainian", "Українська"),
    "ur_PK": _entry("Urdu", "اردو"),
    "uz_UZ": _entry("Uzbek", "O\u02bbzbekcha"),
    "vi_VN": _entry("Vietnamese", "Tiếng Việt"),
    "zh_CN": _entry("Chinese (Simplified)", "中文(简体)"),
    "zh_HK": _entry("Chinese (Hong Kong)", "中文(香港)"),
    "zh_TW": _entry("Chinese (Traditional)", "中文(繁體)"),
}
"""Display names of the common locales, keyed by locale code (``"pt_BR"``).

Each value is a dict with ``"name_en"`` (the name in English, ``"Portuguese
(Brazil)"``) and ``"name"`` (the name in the language itself, ``"Português
(Brasil)"``).  :attr:`Locale.name <squall.locale.Locale.name>` is looked up
here.  The dict is an ordinary mutable dict: an application may add entries
for locales it supports that are missing, before creating those locales.

.. versionadded:: 0.1.0
"""
