"""The duplicates review without Qt (core/dupes/review.py): the user's ticks and keepers, remembered by file."""

from __future__ import annotations

from imgsearch_desktop.core.dupes import Tier


def test_choices_keep_an_untick_everywhere_and_a_tick_only_against_the_same_keeper():
    import numpy as np

    from imgsearch_desktop.core.dupes import Group, Member, Photo
    from imgsearch_desktop.core.dupes.review import Choices

    def photo(name: str) -> Photo:
        return Photo(name, f"/p/{name}", name * 8, 1000, 10, 10, 0, "JPEG", None, np.zeros(2, np.float32),
                     real=f"/p/{name}")

    a, b, c, d = (photo(n) for n in "abcd")
    copy_of_a = Member(c, 0.99, Tier.SAME_PICTURE, ticked=True)
    group_a = Group(a, [Member(a, 1.0), copy_of_a, Member(d, 0.98, Tier.SAME_PICTURE, ticked=True)])
    choices = Choices()
    assert choices.ticked(group_a, copy_of_a)  # the tier's pre-tick
    choices.set_ticked(group_a, group_a.members[2], False)
    similar_of_b = Member(c, 0.91, Tier.SIMILAR)
    group_b = Group(b, [Member(b, 1.0), similar_of_b, Member(d, 0.97, Tier.SAME_PICTURE, ticked=True)])
    assert not choices.ticked(group_b, group_b.members[2])  # unticked ("keep it") holds in any group
    choices.set_ticked(group_a, copy_of_a, True)
    assert choices.ticked(group_a, copy_of_a) and not choices.ticked(group_b, similar_of_b)  # not against b
    assert not choices.ticked(group_a, group_a.members[0])  # a keeper is never ticked
    choices.chose_keeper(group_b, d)
    choices.chose_keeper(group_a, c)  # replaces the choice of d, a photo of the same group
    assert choices.keeper_in(Group(a, [Member(a, 1.0), Member(c, 0.9), Member(d, 0.9)])) is c
    # A burst's pick is another decision: choosing d in a burst changes no duplicate group's keeper, and back.
    burst = Group(a, [Member(a, 1.0), Member(d, 0.9, Tier.BURST)], Tier.BURST)
    choices.chose_keeper(burst, d)
    assert choices.keeper_in(burst) is d and choices.keeper_in(Group(a, [Member(a, 1.0), Member(c, 0.9),
                                                                         Member(d, 0.9)])) is c
    assert choices.keeper_in(Group(a, [Member(a, 1.0), Member(c, 0.9, Tier.BURST)], Tier.BURST)) is None


def test_the_window_pre_ticks_an_identical_copy_of_a_similar_shot():
    """Issue [W]: the window's ticks follow the member, not only its tier: an identical copy of a similar shot
    starts checked, the similar shot itself does not."""
    import numpy as np

    from imgsearch_desktop.core.dupes import Group, Member, Photo
    from imgsearch_desktop.core.dupes.review import Choices

    def photo(name: str) -> Photo:
        return Photo(name, f"/p/{name}", name * 8, 1000, 10, 10, 0, "JPEG", None, np.zeros(2, np.float32),
                     real=f"/p/{name}")

    keep, shot, copy = photo("k"), photo("s"), photo("c")
    group = Group(keep, [Member(keep, 1.0), Member(shot, 0.93, Tier.SIMILAR),
                         Member(copy, 0.93, Tier.SIMILAR, copy_of=shot)], Tier.SIMILAR)
    choices = Choices()
    assert [choices.ticked(group, m) for m in group.members] == [False, False, True]
    assert group.members[2].relation == "identical file"
