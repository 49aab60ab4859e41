"""What the check found: problems (each with what to do), notes, worked figures, and a count of what passed."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    where: str  # a variable or a file: "SECRET_KEY", "Procfile"
    what: str  # what is wrong, in plain words; never a secret value
    fix: str  # what to do about it


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)  # worked figures (the connection budget), printed first

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, where: str, what: str, fix: str) -> None:
        self.problems.append(Problem(where, what, fix))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def good(self, text: str) -> None:
        self.passed.append(text)

    def section(self, text: str) -> None:
        self.sections.append(text)

    def lines(self) -> list[str]:
        out = list(self.sections)
        out += [f"  ok       {text}" for text in self.passed]
        out += [f"  note     {text}" for text in self.notes]
        for problem in self.problems:
            said = problem.what if problem.what.startswith(problem.where) else f"{problem.where}: {problem.what}"
            out.append(f"  PROBLEM  {said}")
            out.append(f"           what to do: {problem.fix}")
        if self.ok:
            out.append(f"check: all {len(self.passed)} checks passed; ready for `git push heroku`.")
        else:
            count = len(self.problems)
            out.append(
                f"check: {count} problem{'s' if count != 1 else ''} found; fix {'them' if count != 1 else 'it'} before `git push heroku`."
            )
        return out
