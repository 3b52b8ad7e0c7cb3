"""Verbatim judge prompt texts of the official open-ended scorers.

These are data (the graders' instructions and few-shot examples), copied exactly because the judge's
behaviour and therefore the metric depend on every byte. Each constant names its source; the fixtures'
`judge/replies.jsonl` record the same texts inside the requests the authors' code sent.
"""
from __future__ import annotations

# MathVista `evaluation/prompts/ext_ans.py` demo_prompt, `.strip()`ped
# (lupantech/MathVista@ed0d56d; the TroL/Phantom `eval/mathvista` copy is the same).
MATHVISTA_EXTRACT_DEMO = (
    'Please read the following example. Then extract the answer from the model response and '
    'type it at the end of the prompt.\n'
    '\n'
    'Hint: Please answer the question requiring an integer answer and provide the final value, '
    'e.g., 1, 2, 3, at the end.\n'
    'Question: Which number is missing?\n'
    '\n'
    'Model response: The number missing in the sequence is 14.\n'
    '\n'
    'Extracted answer: 14\n'
    '\n'
    'Hint: Please answer the question requiring a floating-point number with one decimal place '
    'and provide the final value, e.g., 1.2, 1.3, 1.4, at the end.\n'
    'Question: What is the fraction of females facing the camera?\n'
    '\n'
    'Model response: The fraction of females facing the camera is 0.6, which means that six '
    'out of ten females in the group are facing the camera.\n'
    '\n'
    'Extracted answer: 0.6\n'
    '\n'
    'Hint: Please answer the question requiring a floating-point number with two decimal '
    'places and provide the final value, e.g., 1.23, 1.34, 1.45, at the end.\n'
    'Question: How much money does Luca need to buy a sour apple candy and a butterscotch '
    'candy? (Unit: $)\n'
    '\n'
    'Model response: Luca needs $1.45 to buy a sour apple candy and a butterscotch candy.\n'
    '\n'
    'Extracted answer: 1.45\n'
    '\n'
    'Hint: Please answer the question requiring a Python list as an answer and provide the '
    'final list, e.g., [1, 2, 3], [1.2, 1.3, 1.4], at the end.\n'
    'Question: Between which two years does the line  graph saw its maximum peak?\n'
    '\n'
    'Model response: The line graph saw its maximum peak between 2007 and 2008.\n'
    '\n'
    'Extracted answer: [2007, 2008]\n'
    '\n'
    'Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, '
    'at the end.\n'
    'Question: What fraction of the shape is blue?\n'
    'Choices:\n'
    '(A) 3/11\n'
    '(B) 8/11\n'
    '(C) 6/11\n'
    '(D) 3/5\n'
    '\n'
    'Model response: The correct answer is (B) 8/11.\n'
    '\n'
    'Extracted answer: B'
)

# MathVerse `evaluation/prompts.py` demo_prompt_extract, `.strip()`ped
# (ZrrSkywalker/MathVerse@937b090; TroL `eval_mathverse` uses the same).
MATHVERSE_EXTRACT_DEMO = (
    "I am providing you a response from a model to a math problem, termed 'Model Response'. "
    "You should extract the answer from the response as 'Extracted Answer'. Directly output "
    'the extracted answer with no explanation.\n'
    '\n'
    '1.\n'
    "Model response: 'Rounded to two decimal places, the perimeter of the sector is "
    'approximately:\n'
    '\n'
    "(-2, 1)'\n"
    'Extracted Answer: (-2, 1)\n'
    '\n'
    '2.\n'
    "Model response: 'at those points.\n"
    '\n'
    'Therefore, the correct option that represents the meaning of the intersection points of '
    'the graphs is:\n'
    '\n'
    'D. They give the solutions to the equation $f(t)=g(t)$.",\'\n'
    'Extracted Answer: D\n'
    '\n'
    '3.\n'
    "Model response: ' at 1 (there's a closed circle at y = 1), the range in interval notation "
    'is \\((-4, 1]\\).\n'
    '\n'
    'Final values:\n'
    'Domain: \\((-3, 3]\\)\n'
    "Range: \\((-4, 1]\\)'\n"
    'Extracted Answer: Domain: \\((-3, 3]\\)\n'
    'Range: \\((-4, 1]\\)\n'
    '\n'
    '4.\n'
    "Model response: 'As it stands, I cannot provide the correct option letter because there "
    "isn't enough information to solve for 'y'.'\n"
    'Extracted Answer: null\n'
    '\n'
    '5.\n'
    "Model response: 'Given that AB = 17.6 meters, we can now substitute into the equation:\n"
    '\n'
    'd = 17.6 / cos(38°)\n'
    '\n'
    'Therefore, to one decimal place, the distance d between Ned and Bart is approximately '
    "22.3 meters.'\n"
    'Extracted answer: 22.3\n'
    '\n'
    '6.\n'
    'Model response:  have all the coefficients for the quadratic function:\n'
    '\\( f(x) = ax^2 + bx + c \\)\n'
    '\\( f(x) = -1x^2 - 2x + 1 \\)\n'
    '\n'
    'Therefore, the equation for the graphed function \\( f \\) is:\n'
    '\\( f(x) = -x^2 - 2x + 1 \\)"\'\n'
    'Extracted answer: f(x) = -x^2 - 2x + 1\n'
    '\n'
    '7.'
)

# MathVerse demo_prompt_score up to (not including) its final `[Question]: {question}...` block,
# with the `{{`/`}}` escapes resolved as `.format` leaves them.
MATHVERSE_SCORE_DEMO = (
    'Below are two answers to a math question. Question is [Question], [Standard Answer] is '
    'the standard answer to the question, and [Model_answer] is the answer extracted from a '
    "model's output to this question.  Determine whether these two answers are consistent.\n"
    'Please note that only when the [Model_answer] completely matches the [Standard Answer] '
    'means they are consistent. For non-multiple-choice questions, if the meaning is expressed '
    'in the same way, it is also considered consistent, for example, 0.5m and 50cm.\n'
    'If they are consistent, Judement is 1; if they are different, Judement is 0.\n'
    '\n'
    '[Question]: Write the set of numbers represented on the number line in interval notation.\n'
    '[Standard Answer]: (-2,1]\n'
    '[Model_answer] : Extracted Answer: \\((-2, 1)\\)\n'
    'Judgement: 0\n'
    '\n'
    '[Question]: As shown in the figure, circle O has a radius 1.0, if angle BAC = 60.0, then '
    'the length of BC is ()\n'
    'Choices:\n'
    'A:2\n'
    'B:2√{3}\n'
    'C:√{3}\n'
    'D:2√{2}\n'
    '[Standard Answer]: C\n'
    '[Model_answer] : B:2√{3}\n'
    'Judgement: 0\n'
    '\n'
    '[Question]: Find the domain and range of the function f using interval notation.\n'
    '[Standard Answer]: domain: [-4, 0) and range: (-3, 1]\n'
    '[Model_answer] : Range: \\((-4, 1]\\)\n'
    'Judgement: 0\n'
    '\n'
    '[Question]: As shown in the figure, circle O has a radius 1.0, if angle BAC = 60.0, then '
    'the length of BC is ()\n'
    'Choices:\n'
    'A:2\n'
    'B:2√{3}\n'
    'C:√{3}\n'
    'D:2√{2}\n'
    '[Standard Answer]: C\n'
    '[Model_answer] : null\n'
    'Judgement: 0\n'
    '\n'
    '[Question]: Given the graph of the ellipse that intersects with x-axis at 9 and -9 and '
    'with y-axis at 3 and -3, determine its equation.A. \\frac{x^2}{81} + \\frac{y^2}{9} = 1 B. '
    'Can not determine.\n'
    '\n'
    '[Standard Answer]: A\n'
    '[Model_answer] : \\frac{x^2}{81} + \\frac{y^2}{9} = 1\n'
    'Judgement: 1\n'
    '\n'
)

# MM-Vet v1 grader instruction + few-shot table (yuweihao/MM-Vet@acde843 `mm-vet_evaluator.py`).
MMVET_V1_PROMPT = (
    'Compare the ground truth and prediction from AI models, to give a correctness score for '
    'the prediction. <AND> in the ground truth means it is totally right only when all '
    'elements in the ground truth are present in the prediction, and <OR> means it is totally '
    'right when any one element in the ground truth is present in the prediction. The '
    'correctness score is 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or '
    '1.0 (totally right). Just complete the last space of the correctness score.\n'
    '\n'
    'Question | Ground truth | Prediction | Correctness\n'
    '--- | --- | --- | ---\n'
    'What is x in the equation? | -1 <AND> -5 | x = 3 | 0.0\n'
    'What is x in the equation? | -1 <AND> -5 | x = -1 | 0.5\n'
    'What is x in the equation? | -1 <AND> -5 | x = -5 | 0.5\n'
    'What is x in the equation? | -1 <AND> -5 | x = -5 or 5 | 0.5\n'
    'What is x in the equation? | -1 <AND> -5 | x = -1 or x = -5 | 1.0\n'
    'Can you explain this meme? | This meme is poking fun at the fact that the names of the '
    'countries Iceland and Greenland are misleading. Despite its name, Iceland is known for '
    'its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The '
    'meme is saying that the person has trust issues because the names of these countries do '
    'not accurately represent their landscapes. | The meme talks about Iceland and Greenland. '
    "It's pointing out that despite their names, Iceland is not very icy and Greenland isn't "
    'very green. | 0.4\n'
    'Can you explain this meme? | This meme is poking fun at the fact that the names of the '
    'countries Iceland and Greenland are misleading. Despite its name, Iceland is known for '
    'its beautiful green landscapes, while Greenland is mostly covered in ice and snow. The '
    'meme is saying that the person has trust issues because the names of these countries do '
    'not accurately represent their landscapes. | The meme is using humor to point out the '
    "misleading nature of Iceland's and Greenland's names. Iceland, despite its name, has lush "
    "green landscapes while Greenland is mostly covered in ice and snow. The text 'This is why "
    "I have trust issues' is a playful way to suggest that these contradictions can lead to "
    'distrust or confusion. The humor in this meme is derived from the unexpected contrast '
    'between the names of the countries and their actual physical characteristics. | 1.0\n'
)

# MM-Vet v2 grader instruction + pipe-delimited few-shot table (`v2/mm-vet-v2_evaluator.py`),
# ending in a newline.
MMVET_V2_PROMPT = (
    'Compare the ground truth and prediction from AI models, to give a correctness score for '
    'the prediction. <image> in the question indicates where an image is. <AND> in the ground '
    'truth means it is totally right only when all elements in the ground truth are present in '
    'the prediction, and <OR> means it is totally right when any one element in the ground '
    'truth is present in the prediction. The correctness score is 0.0 (totally wrong), 0.1, '
    '0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 (totally right). Just complete the last '
    'space of the correctness score.\n'
    '\n'
    '| Question | Ground truth | Prediction | Correctness |\n'
    '| --- | --- | --- | --- |\n'
    '| What is x in the equation?<image> | -1 <AND> -5 | x = 3 | 0.0 |\n'
    '| What is x in the equation?<image> | -1 <AND> -5 | x = -1 | 0.5 |\n'
    '| What is x in the equation?<image> | -1 <AND> -5 | x = -5 | 0.5 |\n'
    '| What is x in the equation?<image> | -1 <AND> -5 | x = -5 or 5 | 0.5 |\n'
    '| What is x in the equation?<image> | -1 <AND> -5 | x = -1 or x = -5 | 1.0 |\n'
    '| Can you explain this meme?<image> | This meme is poking fun at the fact that the names '
    'of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known '
    'for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. '
    'The meme is saying that the person has trust issues because the names of these countries '
    'do not accurately represent their landscapes. | The meme talks about Iceland and '
    "Greenland. It's pointing out that despite their names, Iceland is not very icy and "
    "Greenland isn't very green. | 0.4 |\n"
    '| Can you explain this meme?<image> | This meme is poking fun at the fact that the names '
    'of the countries Iceland and Greenland are misleading. Despite its name, Iceland is known '
    'for its beautiful green landscapes, while Greenland is mostly covered in ice and snow. '
    'The meme is saying that the person has trust issues because the names of these countries '
    'do not accurately represent their landscapes. | The meme is using humor to point out the '
    "misleading nature of Iceland's and Greenland's names. Iceland, despite its name, has lush "
    "green landscapes while Greenland is mostly covered in ice and snow. The text 'This is why "
    "I have trust issues' is a playful way to suggest that these contradictions can lead to "
    'distrust or confusion. The humor in this meme is derived from the unexpected contrast '
    'between the names of the countries and their actual physical characteristics. | 1.0 |\n'
)

# LLaVA `llava/eval/eval_gpt_review_bench.py` system message.
LLAVA_REVIEW_SYSTEM = (
    'You are a helpful and precise assistant for checking the quality of the answer.'
)

# LLaVA `llava/eval/table/rule.json` prompt of llava_bench_conv/detail/complex (identical texts;
# Phantom adds llava_wilder with the same text).
LLAVA_REVIEW_RULE = (
    'We would like to request your feedback on the performance of two AI assistants in '
    'response to the user question displayed above. The user asks the question on observing an '
    'image. For your reference, the visual content in the image is represented with a few '
    'sentences describing the image. \n'
    'Please rate the helpfulness, relevance, accuracy, level of details of their responses. '
    'Each assistant receives an overall score on a scale of 1 to 10, where a higher score '
    'indicates better overall performance.\n'
    'Please first output a single line containing only two values indicating the scores for '
    'Assistant 1 and 2, respectively. The two scores are separated by a space.\n'
    'In the subsequent line, please provide a comprehensive explanation of your evaluation, '
    'avoiding any potential bias and ensuring that the order in which the responses were '
    'presented does not affect your judgment.'
)
