"""Safety: emergency symptoms first, findings never dressed up as diagnoses.

The emergency check runs on the user's words before anything else in the graph, with no model in the
loop: a lexicon is predictable, and a missed "crushing chest pain" costs far more than a false alarm.
"""

from __future__ import annotations

import re

from pydantic import BaseModel

NOT_A_MEDICAL_DEVICE = (
    "cardioagent is a research tool, not a medical device: it reports signal findings and what they may "
    "indicate, it does not diagnose. Discuss any concern with a clinician."
)

EMERGENCY_ADVICE = (
    "**If you have these symptoms now, seek emergency care immediately: call your local emergency number "
    "or go to the nearest emergency department. Do not wait for an analysis.**"
)

# Each pattern names a symptom group so the answer (and the trace) can say what triggered the advice.
_EMERGENCY_PATTERNS: dict[str, str] = {
    "chest pain": r"\b(chest|heart)\s*"
    r"(pain|pains|ache|aching|pressure|tightness|tight|discomfort|hurts?|hurting|squeez\w*|crush\w*)"
    r"|\b(pain|pressure|tightness|squeezing|crushing)\s+(in|on|across)\s+(my\s+|the\s+)?chest"
    r"|\bchest\s+(feels|is|gets|felt)\s+(tight|heavy|crushed|squeezed)"
    r"|\bangina\b|\bheart attack\b",
    "fainting": r"\b(faint(ed|ing)?|pass(ed|ing)? out|blacked? out|black(ed)? out|syncope|collaps(e|ed|ing)"
    r"|lost consciousness|loss of consciousness|unconscious)\b",
    "severe breathlessness": r"\b(can'?t|cannot|can not|unable to|struggling to|hard to|difficult(y)? to)\s+breathe?\b"
    r"|\b(severe|extreme|sudden)\s+(shortness of breath|breathlessness|dyspn\w+)|\bgasping\b|\bchoking\b",
    "stroke signs": r"\b(face\b[^.]{0,15}\bdroop\w*|slurred speech|speech is slurred|arm weakness"
    r"|one side (of my body )?(is )?(numb|weak)|stroke)\b",
    "pain spreading to arm or jaw": r"\bpain\b[^.]{0,40}\b(left arm|arm|jaw|neck|back)\b",
    "very fast or very slow heartbeat with symptoms": r"\b(heart|pulse)\b[^.]{0,30}"
    r"\b(racing|pounding|won'?t slow|very (fast|slow))\b[^.]{0,60}"
    r"\b(dizz\w*|faint\w*|short of breath|chest)",
    "cardiac arrest": r"\b(no pulse|not breathing|cardiac arrest|unresponsive)\b",
    "severe dizziness": r"\b(severe|sudden)\s+(dizziness|lightheadedness|light-headedness)\b",
}
_COMPILED = {name: re.compile(p, re.IGNORECASE) for name, p in _EMERGENCY_PATTERNS.items()}

# Questions about a symptom in general ("what causes chest pain?") still get the advice: the cost of
# showing it needlessly is small.


class EmergencyCheck(BaseModel):
    emergency: bool
    triggers: list[str]


def check_emergency(text: str) -> EmergencyCheck:
    triggers = [name for name, pattern in _COMPILED.items() if pattern.search(text or "")]
    return EmergencyCheck(emergency=bool(triggers), triggers=triggers)


# Phrases that would turn a finding into a diagnosis claim, and their honest replacements.
_DIAGNOSIS_CLAIMS = [
    (re.compile(r"\byou have\b", re.I), "the recording shows findings consistent with"),
    (re.compile(r"\bthe patient has\b", re.I), "the recording shows findings consistent with"),
    (re.compile(r"\bI diagnose\b", re.I), "the findings suggest"),
    (re.compile(r"\bdiagnosis is\b", re.I), "findings may indicate"),
    (re.compile(r"\b(is|are) diagnosed with\b", re.I), r"\1 consistent with"),
]


def soften_diagnosis_claims(text: str) -> str:
    for pattern, replacement in _DIAGNOSIS_CLAIMS:
        text = pattern.sub(replacement, text)
    return text
