"""The words Rollwise uses: scalp areas, symptom kinds and the choices a session log offers.

Pure data: imported by rules, schemas, services and templates alike.
"""

from __future__ import annotations

# Scalp areas, in the order the forms show them. Healing is local: a wait
# applies to the areas treated in that session.
AREAS: dict[str, str] = {
    "hairline_left": "Left temple",
    "hairline_right": "Right temple",
    "frontal": "Frontal",
    "mid_scalp": "Mid-scalp",
    "crown": "Crown",
    "part_line": "Part line",
}

LOCATIONS = {"home": "At home", "clinic": "At a clinic"}
DEVICE_KINDS = {"roller": "Roller", "stamp": "Stamp", "pen": "Pen"}
REACTIONS = {"none": "None", "redness": "Redness", "bleeding": "Pinpoint bleeding"}
APPLIED = {"nothing": "Nothing", "minoxidil": "Minoxidil", "prp": "PRP", "other": "Other"}
# A symptom pauses the countdown and minoxidil (minoxidil OTC label: not on a red,
# irritated, infected or painful scalp).
SYMPTOMS = {
    "redness": "Redness lasting over 2 days",
    "infection": "Signs of infection (swelling, pus, warmth)",
    "pain": "Pain",
    "irritation": "Irritation or itching",
}

# Hair-loss stages, as clinicians write them (Norwood-Hamilton with its a/vertex variants).
SCALES: dict[str, tuple[str, tuple[str, ...]]] = {
    "norwood": ("Norwood-Hamilton",
                ("I", "II", "IIa", "III", "IIIa", "III vertex", "IV", "IVa", "V", "Va", "VI", "VII")),
    "ludwig": ("Ludwig", ("I", "II", "III")),
    "sinclair": ("Sinclair", ("1", "2", "3", "4", "5")),
}
ASSESSORS = {"self": "Self", "clinician": "Clinician"}
