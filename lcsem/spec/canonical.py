"""The canonical learning-culture model and its extended variant.

Learning culture (the seven dimensions of Watkins and Marsick's Dimensions of the
Learning Organization Questionnaire, DLOQ) shapes how much people use the
organisation's knowledge-management system (KMS), which drives organisational
performance; learning culture also has a direct effect on performance. The indirect
effect ``ind := a*b`` and the total effect ``total := c + a*b`` are defined.

The extended variant adds the three competency areas of the source study as
antecedents: managerial competencies for leading learning and KM, strategic learning
and KM processes (information flows and feedback mechanisms), and employees' ability to
use and contribute to the KMS.
"""

from __future__ import annotations

from .model import Model

CONSTRUCTS: dict[str, str] = {
    "culture": "Learning culture: the extent to which the organisation supports learning at "
               "individual, team and organisational level (DLOQ, seven dimensions).",
    "kmsuse": "Use of the knowledge-management system: how often, how widely and how much "
              "employees rely on and contribute to the KMS.",
    "perf": "Organisational performance: financial performance and knowledge performance "
            "relative to comparable organisations.",
    "mgmt_comp": "Managerial competencies for leading learning and knowledge management.",
    "learning_proc": "Strategic learning and KM processes: information flows and feedback "
                     "mechanisms that connect learning to strategy.",
    "emp_ability": "Employees' ability to use the KMS and to contribute knowledge to it.",
}

INDICATORS: dict[str, dict[str, str]] = {
    "culture": {
        "lc_continuous": "Continuous learning: people are given time and support to learn on the job.",
        "lc_inquiry": "Inquiry and dialogue: people give open and honest feedback and ask questions.",
        "lc_team": "Team learning: teams revise their thinking as a result of group discussion.",
        "lc_embedded": "Embedded system: systems capture learning and make it available to others.",
        "lc_empower": "Empowerment: people are involved in setting and implementing a shared vision.",
        "lc_connect": "System connection: the organisation links itself to its environment and community.",
        "lc_leader": "Strategic leadership: leaders model, champion and support learning.",
    },
    "kmsuse": {
        "kms_frequency": "Frequency: how often the respondent uses the KMS in a typical week.",
        "kms_breadth": "Breadth: how many of the KMS's functions and repositories the respondent uses.",
        "kms_reliance": "Reliance: the extent to which daily work depends on knowledge found in the KMS.",
        "kms_contribution": "Contribution: how often the respondent adds or updates knowledge in the KMS.",
    },
    "perf": {
        "op_roi": "Financial: return on investment compared with similar organisations.",
        "op_productivity": "Financial: productivity per employee compared with similar organisations.",
        "op_innovation": "Knowledge: number of new products or services introduced.",
        "op_ideas": "Knowledge: number of employee suggestions implemented.",
        "op_responsiveness": "Knowledge: speed of responding to customers' and market changes.",
    },
    "mgmt_comp": {
        "mc_vision": "Managers articulate how learning and KM serve the organisation's strategy.",
        "mc_coaching": "Managers coach employees and create opportunities to learn.",
        "mc_sharing": "Managers model knowledge sharing and reward it.",
        "mc_resources": "Managers secure time and resources for learning and KM.",
    },
    "learning_proc": {
        "lp_info_flow": "Strategic information flows reach the people who need them.",
        "lp_feedback": "Feedback mechanisms show employees the results of their work.",
        "lp_lessons": "Lessons learned are reviewed and fed into plans.",
        "lp_review": "Strategy is reviewed in light of what the organisation has learned.",
    },
    "emp_ability": {
        "ea_skills": "Employees have the skills to find knowledge in the KMS.",
        "ea_contribute": "Employees know how to document and contribute knowledge to the KMS.",
        "ea_training": "Employees have been trained to use the KMS.",
    },
}

# Standardised population values used by lcsem.simulate and the bundled survey.
POPULATION: dict[str, float] = {
    "culture =~ lc_continuous": 0.78, "culture =~ lc_inquiry": 0.74, "culture =~ lc_team": 0.76,
    "culture =~ lc_embedded": 0.70, "culture =~ lc_empower": 0.72, "culture =~ lc_connect": 0.66,
    "culture =~ lc_leader": 0.75,
    "kmsuse =~ kms_frequency": 0.82, "kmsuse =~ kms_breadth": 0.77, "kmsuse =~ kms_reliance": 0.74,
    "kmsuse =~ kms_contribution": 0.69,
    "perf =~ op_roi": 0.77, "perf =~ op_productivity": 0.73, "perf =~ op_innovation": 0.71,
    "perf =~ op_ideas": 0.66, "perf =~ op_responsiveness": 0.75,
    "kmsuse ~ culture": 0.50, "perf ~ kmsuse": 0.40, "perf ~ culture": 0.20,
    # extended model
    "mgmt_comp =~ mc_vision": 0.80, "mgmt_comp =~ mc_coaching": 0.76, "mgmt_comp =~ mc_sharing": 0.74,
    "mgmt_comp =~ mc_resources": 0.68,
    "learning_proc =~ lp_info_flow": 0.78, "learning_proc =~ lp_feedback": 0.75,
    "learning_proc =~ lp_lessons": 0.72, "learning_proc =~ lp_review": 0.70,
    "emp_ability =~ ea_skills": 0.81, "emp_ability =~ ea_contribute": 0.77, "emp_ability =~ ea_training": 0.70,
    "culture ~ mgmt_comp": 0.35, "culture ~ learning_proc": 0.30,
    "kmsuse ~ learning_proc": 0.15, "kmsuse ~ emp_ability": 0.30,
    "mgmt_comp ~~ learning_proc": 0.45, "mgmt_comp ~~ emp_ability": 0.30, "learning_proc ~~ emp_ability": 0.35,
}

_STRUCTURAL = """
kmsuse ~ a*culture
perf ~ b*kmsuse + c*culture
ind := a*b
total := c + a*b
"""

_EXTENDED_STRUCTURAL = """
culture ~ mgmt_comp + learning_proc
kmsuse ~ a*culture + learning_proc + emp_ability
perf ~ b*kmsuse + c*culture
ind := a*b
total := c + a*b
"""


def _measurement(constructs: list[str]) -> str:
    return "\n".join(f"{c} =~ {' + '.join(INDICATORS[c])}" for c in constructs)


def _descriptions(constructs: list[str]) -> dict[str, str]:
    out = {c: CONSTRUCTS[c] for c in constructs}
    for c in constructs:
        out.update(INDICATORS[c])
    return out


def lc_model() -> Model:
    """The canonical model: learning culture -> KMS use -> performance, plus the direct path.

    Constructs ``culture`` (7 DLOQ indicators), ``kmsuse`` (4) and ``perf`` (5: two
    financial, three knowledge-performance indicators); paths ``kmsuse ~ a*culture``,
    ``perf ~ b*kmsuse + c*culture``; defined ``ind := a*b`` and ``total := c + a*b``.
    ``model.describe()`` lists every construct and indicator with its description;
    ``model.population`` holds the standardised values used for simulation.
    """
    constructs = ["culture", "kmsuse", "perf"]
    model = Model.from_syntax(_measurement(constructs) + _STRUCTURAL,
                              descriptions=_descriptions(constructs), name="learning culture")
    return model.with_population({k: v for k, v in POPULATION.items() if _uses(k, constructs)})


def lc_extended_model() -> Model:
    """The canonical model with the source study's three competency areas as antecedents.

    Adds ``mgmt_comp`` (managerial competencies for leading learning and KM),
    ``learning_proc`` (strategic learning/KM processes: information flows and feedback)
    and ``emp_ability`` (employees' ability to use and contribute to the KMS):
    ``culture ~ mgmt_comp + learning_proc``, ``kmsuse ~ learning_proc + emp_ability``.
    """
    constructs = ["mgmt_comp", "learning_proc", "emp_ability", "culture", "kmsuse", "perf"]
    model = Model.from_syntax(_measurement(constructs) + _EXTENDED_STRUCTURAL,
                              descriptions=_descriptions(constructs), name="learning culture (extended)")
    return model.with_population(POPULATION)


def _uses(key: str, constructs: list[str]) -> bool:
    lhs, _, rhs = key.split()
    return lhs in constructs and (rhs in constructs or any(rhs in INDICATORS[c] for c in constructs))
