"""Every prompt the evaluation sends to a judge, in one place.

Short on purpose: the default judge is a 1.5B model, and each extra token of
instructions costs time on every one of hundreds of calls. The system prompt
is identical for all calls so llama.cpp reuses its cached prefix.
"""

CLAIM_SYSTEM = (
    "You check a statement against a source text. Reply yes only if the source says the same thing: "
    "same drug, same cells or hormones, same people, same numbers, same study. Otherwise reply no."
)

CLAIM_USER = "Source: {evidence}\n\nStatement: {claim}\n\nDoes the source support the statement? Reply yes or no."
