"""What widget tests compare: the figures an explorer shows, before and after a change."""


def snapshot(explorer) -> dict[str, str]:
    """Each figure view's figure as JSON, by view name."""
    return {name: fig.to_json() for name, fig in explorer.figures.items()}


def changed(before: dict, after: dict) -> set[str]:
    """Names of the views whose content differs between two snapshots."""
    return {name for name in before if before[name] != after[name]}
