import json

from apps.llm.backends import Completion


class ScriptedBackend:
    """Stands in for a model in tests of the logic around it: answers each prompt with the
    next scripted output. An exception is raised instead; a callable is called with the
    prompt first (to act on the world mid-run, e.g. cancel it) and its result is used.
    `when_empty` (any of these) answers once the script has run out. Real models are tested
    apart."""

    name, model = "scripted", "script"

    def __init__(self, *outputs, when_empty=None):
        self.outputs = list(outputs)
        self.when_empty = when_empty
        self.prompts: list[str] = []

    def complete(self, prompt, *, json_schema=None, max_tokens=256, **sampling) -> Completion:
        self.prompts.append(prompt)
        if not self.outputs and self.when_empty is not None:
            output = self.when_empty
        else:
            output = self.outputs.pop(0)
        if callable(output) and not isinstance(output, type):
            output = output(prompt)
        if isinstance(output, BaseException):
            raise output
        return Completion(
            text=output,
            prompt_tokens=10,
            completion_tokens=5,
            time_to_first_token_ms=20.0,
            total_ms=100.0,
        )


def fact_question(prompt: str) -> str:
    """What a good model would write for the Q&A prompt: a question that restates the prompt's
    fact (the last "Fact: " line), so it passes the automatic checks. For tests of what happens
    around the model, not of the model."""
    fact = prompt.rsplit("Fact: ", 1)[1].split("\n", 1)[0].strip().rstrip(".")
    words = fact.split()
    while len(" ".join(words)) > 170:
        words.pop()
    return json.dumps({"question": "Is it true that " + " ".join(words) + "?"})
