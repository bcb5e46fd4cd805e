"""Answers remembered for one transaction (storeflow.core.storage.memo)."""

from storeflow.core.storage import memo


def test_an_answer_is_computed_once_per_transaction_and_again_in_the_next(rt):
    calls = []

    def ask():
        calls.append(1)
        return len(calls)

    with rt.unit_of_work() as session:
        assert memo.per_transaction(session, ("t", 1), ask) == 1
        assert memo.per_transaction(session, ("t", 1), ask) == 1
        assert memo.per_transaction(session, ("t", 2), ask) == 2  # another key
    with rt.unit_of_work() as session:
        assert memo.per_transaction(session, ("t", 1), ask) == 3


def test_forget_drops_the_answers_of_its_topic_only(rt):
    calls = []

    def ask():
        calls.append(1)
        return len(calls)

    with rt.unit_of_work() as session:
        memo.per_transaction(session, ("a", 1), ask)
        memo.per_transaction(session, ("b", 1), ask)
        memo.forget(session, "a")
        assert memo.per_transaction(session, ("a", 1), ask) == 3
        assert memo.per_transaction(session, ("b", 1), ask) == 2


def test_a_sequence_saved_in_the_transaction_is_matched_at_once(rt, tenant):
    from storeflow.rules import schema, sequences

    seq = {
        "id": "thanks",
        "name": "Thanks",
        "trigger": {"event": "ecommerce.order_placed"},
        "steps": [{"tag": {"add": ["buyer"]}}],
    }
    with rt.unit_of_work() as session:
        assert sequences.company_rules(session, tenant.company_id).by_row == {}
        sequences.save(session, tenant.company_id, schema.structure_sequence(seq))
        assert len(sequences.company_rules(session, tenant.company_id).by_row) == 1
