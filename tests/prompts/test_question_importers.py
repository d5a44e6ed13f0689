"""Importers of the suites that carry questions or structure, on small files written here in
the layout of each public repository (rows invented; none of their data):

* GenEval 2: facebookresearch/GenEval2 geneval2_data.jsonl (keys from its README and
  evaluation.py / soft_tifa_analysis.py)
* TIFA v1.0: Yushi-Hu/tifa tifa_v1.0/tifa_v1.0_question_answers.json, tifa_v1.0_text_inputs.json
  (keys from tifa_v1.0/README.md)
* DPG-Bench: TencentQQGYLab/ELLA dpg_bench/dpg_bench.csv (columns from compute_dpg_bench.py)
* GenAI-Bench: genai_image.json and genai_skills.json as t2v_metrics' dataset.py
  (GenAIBench_Image) and genai_image_eval.py read them
* OneIG-Bench: OneIG-Bench/OneIG-Benchmark OneIG-Bench.csv, OneIG-Bench-ZH.csv and
  scripts/alignment/Q_D/<folder>.json (as scripts/alignment/alignment_score.py reads them)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.errors import UserError
from audit.prompts import load_suite, sniff_format
from audit.prompts.model import Question


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def jsonl(rows: list[object]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


GENEVAL2_ROWS = [
    {
        "prompt": "three orange kites above a wooden boat",
        "atom_count": 5,
        "vqa_list": [
            ["How many kites are in the image?", "three"],
            ["Are the kites orange?", "Yes"],
            ["Are there any kites in the image?", "Yes"],
            ["Are the kites above the boat?", "Yes"],
            ["Is the boat wooden?", "Yes"],
        ],
        "skills": ["count", "attribute", "object", "position", "attribute"],
    },
    {
        "prompt": "a goat reading",
        "atom_count": 2,
        "vqa_list": [["Is the goat reading?", "Yes"]],
        "skills": ["verb"],
    },
]


def test_geneval2_questions_atoms_and_atomicity(tmp_path: Path) -> None:
    path = write(tmp_path / "geneval2_data.jsonl", jsonl(GENEVAL2_ROWS))
    assert sniff_format(path)[0] == "geneval2"
    suite = load_suite(path.name, tmp_path)
    assert suite.format == "geneval2"
    first, second = suite.prompts
    assert first.id == "geneval2_data-00001"
    assert first.category == "atoms_5"
    assert first.tags == ("attribute", "count", "object", "position")
    assert first.expect.questions[0] == Question(
        id="1", question="How many kites are in the image?", answer="three", atom="count"
    )
    assert [q.atom for q in first.expect.questions] == GENEVAL2_ROWS[0]["skills"]
    assert [q.answer for q in second.expect.questions] == ["Yes"]
    # GenEval's own files still read as GenEval
    old = write(
        tmp_path / "evaluation_metadata.jsonl", jsonl([{"tag": "t", "prompt": "a", "include": []}])
    )
    assert sniff_format(old)[0] == "geneval"


def test_tifa_question_answers_group_by_caption(tmp_path: Path) -> None:
    rows = [
        {
            "id": "coco_1234",
            "caption": "A brown horse next to a sign reading 'FARM'.",
            "question": "is there a horse?",
            "choices": ["yes", "no"],
            "answer": "yes",
            "element_type": "animal/human",
            "element": "horse",
            "coco_val_id": "99",
        },
        {
            "id": "coco_1234",
            "caption": "A brown horse next to a sign reading 'FARM'.",
            "question": "what color is the horse?",
            "choices": ["brown", "white", "black", "grey"],
            "answer": "brown",
            "element_type": "color",
            "element": "brown",
            "coco_val_id": "99",
        },
        {
            "id": "drawbench_7",
            "caption": "Two kettles on a stove.",
            "question": "how many kettles are there?",
            "choices": ["1", "2", "3", "4"],
            "answer": "2",
            "element_type": "counting",
            "element": "2",
        },
    ]
    path = write(tmp_path / "tifa_v1.0_question_answers.json", json.dumps(rows, indent=2))
    assert sniff_format(path)[0] == "tifa"
    suite = load_suite(path.name, tmp_path)
    horse, kettles = suite.prompts
    assert (horse.id, horse.category, horse.expect.text) == ("coco_1234", "coco", ("FARM",))
    assert [(q.id, q.answer, q.atom) for q in horse.expect.questions] == [
        ("1", "yes", "animal/human"),
        ("2", "brown", "color"),
    ]
    assert horse.expect.questions[1].choices == ("brown", "white", "black", "grey")
    assert (kettles.id, kettles.category) == ("drawbench_7", "drawbench")
    # the text inputs file: prompts without questions
    inputs = [{"id": "coco_1234", "caption": "A brown horse.", "coco_val_id": "99"}]
    path = write(tmp_path / "tifa_v1.0_text_inputs.json", json.dumps(inputs))
    (prompt,) = load_suite(path.name, tmp_path).prompts
    assert (prompt.id, prompt.text, prompt.expect.questions) == ("coco_1234", "A brown horse.", ())


DPG_HEADER = (
    "item_id,text,keywords,proposition_id,dependency,category_broad,category_detailed,"
    "tuple,question_natural_language\n"
)


def test_dpg_bench_rows_become_questions_with_dependencies(tmp_path: Path) -> None:
    text = (
        DPG_HEADER
        + 'lamp7,"A tall lamp, glowing amber, beside a velvet chair.",lamp|chair,1,0,'
        + "entity,whole,entity - whole (lamp),Is there a lamp?\n"
        + 'lamp7,"A tall lamp, glowing amber, beside a velvet chair.",lamp|chair,2,1,'
        + "attribute,size,attribute - size (lamp),Is the lamp tall?\n"
        + 'lamp7,"A tall lamp, glowing amber, beside a velvet chair.",lamp|chair,3,"1,4",'
        + 'relation,spatial,"relation - spatial (lamp, chair, beside)",'
        + "Is the lamp beside the chair?\n"
        + 'lamp7,"A tall lamp, glowing amber, beside a velvet chair.",lamp|chair,4,0,'
        + "entity,whole,entity - whole (chair),Is there a chair?\n"
        + "fox2,A fox.,fox,1,0,entity,whole,entity - whole (fox),Is there a fox?\n"
    )
    path = write(tmp_path / "dpg_bench.csv", text)
    assert sniff_format(path)[0] == "dpg"
    lamp, fox = load_suite(path.name, tmp_path).prompts
    assert lamp.id == "lamp7"
    assert lamp.text == "A tall lamp, glowing amber, beside a velvet chair."
    assert lamp.tags == ("attribute", "entity", "relation")
    assert [(q.id, q.dependencies, q.atom, q.answer) for q in lamp.expect.questions] == [
        ("1", (), "entity", "yes"),
        ("2", ("1",), "attribute", "yes"),
        ("3", ("1", "4"), "relation", "yes"),
        ("4", (), "entity", "yes"),
    ]
    assert fox.expect.questions[0].question == "Is there a fox?"


def test_genai_bench_with_and_without_skills(tmp_path: Path) -> None:
    data = {
        "00001": {"prompt": "a mug without a handle", "models": {"SDXL_Base": [3, 4, 2]}},
        "00002": {"prompt": "a cat on a rug", "models": {}},
    }
    path = write(tmp_path / "genai_image.json", json.dumps(data))
    assert sniff_format(path)[0] == "genai"
    plain = load_suite(path.name, tmp_path).prompts
    assert [(p.id, p.category, p.tags) for p in plain] == [
        ("00001", "uncategorized", ()),
        ("00002", "uncategorized", ()),
    ]
    skills = {"negation": ["00001"], "attribute": ["00001"], "spatial relation": ["00002"]}
    write(tmp_path / "genai_skills.json", json.dumps(skills))
    tagged = load_suite(path.name, tmp_path).prompts
    assert [(p.category, p.tags) for p in tagged] == [
        ("advanced", ("negation", "attribute")),
        ("basic", ("spatial relation",)),
    ]
    write(tmp_path / "genai_skills.json", json.dumps({"counting": ["09999"]}))
    with pytest.raises(UserError) as err:
        load_suite(path.name, tmp_path)
    assert err.value.file and err.value.file.endswith("genai_skills.json")
    assert err.value.field == "counting" and err.value.fix


def test_oneig_bench_ids_tags_and_questions_from_the_repository_layout(tmp_path: Path) -> None:
    text = (
        "category,id,prompt_en,type,prompt_length,class\n"
        "General_Object,000,A copper teapot on a windowsill.,NP,short,\n"
        'Portrait,000,"An old sailor, smiling.",NP,middle,\n'
        'Text_Rendering,003,A poster that says "SALE".,"T, P",short,poster design\n'
    )
    path = write(tmp_path / "OneIG-Bench.csv", text)
    assert sniff_format(path)[0] == "oneig"
    questions = {
        "000": {
            "question": json.dumps({"1": "Is there a teapot?", "2": "Is the teapot copper?"}),
            "dependency": json.dumps({"1": [0], "2": [1]}),
        }
    }
    write(tmp_path / "scripts/alignment/Q_D/object.json", json.dumps(questions))
    teapot, sailor, poster = load_suite(path.name, tmp_path).prompts
    assert [p.id for p in (teapot, sailor, poster)] == ["object_000", "human_000", "text_003"]
    assert poster.tags == ("T, P", "short", "poster design")
    assert poster.expect.text == ("SALE",)
    assert [(q.id, q.question, q.dependencies) for q in teapot.expect.questions] == [
        ("1", "Is there a teapot?", ()),
        ("2", "Is the teapot copper?", ("1",)),
    ]
    assert sailor.expect.questions == ()  # no human.json here
    zh = write(
        tmp_path / "OneIG-Bench-ZH.csv",
        "category,id,prompt_cn,class\nMultilingualism,001,一只猫,\n",
    )
    write(
        tmp_path / "scripts/alignment/Q_D/multilingualism_zh.json",
        json.dumps({"001": {"question": '{"1": "有猫吗？"}', "dependency": '{"1": [0]}'}}),
    )
    (cat,) = load_suite(zh.name, tmp_path).prompts
    assert (cat.id, cat.text, cat.expect.questions[0].question) == (
        "multilingualism_001",
        "一只猫",
        "有猫吗？",
    )


def test_questions_enter_the_expectations_the_scores_are_tied_to(tmp_path: Path) -> None:
    # the request row's expect_json, which every per-image score identity folds in
    from audit.generate.request import prompt_request_fields

    def expect_json() -> str:
        suite = load_suite(path.name, tmp_path)
        return str(prompt_request_fields(suite.prompts[0], suite, "")["expect_json"])

    path = write(tmp_path / "geneval2_data.jsonl", jsonl(GENEVAL2_ROWS[:1]))
    before = expect_json()
    changed = json.loads(json.dumps(GENEVAL2_ROWS[:1]))
    changed[0]["vqa_list"][1][1] = "No"
    write(path, jsonl(changed))
    assert expect_json() != before and '"questions"' in before


G2 = '{"prompt": "a", "vqa_list": [["Q?", "Yes"]], "skills": ["object"]}\n'
TIFA_Q = '{"id": "x_1", "caption": "c", "question": "q?", "choices": ["a"], "answer": "a"}'
DPG_ROW = "p1,a cat,,1,0,entity,whole,t,Is there a cat?\n"
BROKEN = [
    ("g.jsonl", G2.replace('["object"]', "[]"), "g.jsonl:1", "skills"),
    ("g.jsonl", G2.replace('["Q?", "Yes"]', '["Q?"]'), "g.jsonl:1", "vqa_list[0]"),
    ("g.jsonl", G2.replace('"prompt": "a", ', ""), "g.jsonl:1", "prompt"),
    ("t.json", "[" + TIFA_Q.replace('"answer": "a"', '"answer": "b"') + "]", "t.json[0]", "answer"),
    ("t.json", '[{"id": "x_1"}]', "t.json[0]", "caption"),
    ("t.json", '[{"id": "x_1", "caption": "c"}, {"id": "x_1", "caption": "d"}]', "t.json[1]",
     "caption"),
    ("t.json", '{"id": 3', "t.json", None),
    ("d.csv", DPG_HEADER + DPG_ROW.replace(",1,0,", ",1,zero,"), "d.csv:2", "dependency"),
    ("d.csv", DPG_HEADER + DPG_ROW.replace("Is there a cat?", ""), "d.csv:2",
     "question_natural_language"),
    ("d.csv", DPG_HEADER + DPG_ROW.replace(",1,0,", ",1,2,"), "d.csv:2", "expect.questions"),
    ("o.csv", "category,id,prompt_en\nPortrait,001,\n", "o.csv:2", "prompt_en"),
    ("a.json", '{"00001": {"models": {}}}', 'a.json["00001"]', "prompt"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "text", "where", "field"), BROKEN)
def test_broken_files_name_file_field_and_fix(
    tmp_path: Path, name: str, text: str, where: str, field: str | None
) -> None:
    path = write(tmp_path / name, text)
    with pytest.raises(UserError) as err:
        load_suite(path.name, tmp_path)
    assert err.value.file is not None and err.value.file.endswith(where), err.value
    assert err.value.field == field or (field and (err.value.field or "").startswith(field)), (
        err.value
    )
    assert err.value.fix


def test_a_broken_question_file_of_oneig_names_it(tmp_path: Path) -> None:
    path = write(tmp_path / "OneIG-Bench.csv", "category,id,prompt_en\nGeneral_Object,000,a cup\n")
    write(
        tmp_path / "scripts/alignment/Q_D/object.json",
        '{"000": {"question": "{not json", "dependency": "{}"}}',
    )
    with pytest.raises(UserError) as err:
        load_suite(path.name, tmp_path)
    assert "object.json" in str(err.value.file) and "not valid JSON" in err.value.problem
