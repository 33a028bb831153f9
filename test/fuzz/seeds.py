"""Writes the fuzzers' starting corpus of text inputs (ratings, CSVs, JSON Lines, features, a zip)
for fuzz_files and of LLM answers for fuzz_llm. Usage: seeds.py FILES_DIR LLM_DIR."""
import io
import json
import os
import sys
import zipfile

files, llm = sys.argv[1], sys.argv[2]


def put(d, name, sel, body):
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(sel) + (body.encode() if isinstance(body, str) else body))


put(files, "ratings-tsv", [3], "1\t10\t5\t881250949\n2\t11\t3\t891717742\r\n\n3\t10\t1\t878887116\n")
put(files, "ratings-csv", [4], "user,item,rating\n1,10,4.5\n2,11,0.5\n")
put(files, "profiles-csv", [5], 'id,text\n10,"A heist, with ""quotes""\nover two lines"\n11,plain\n')
put(files, "profiles-jsonl", [6], '{"kind": "user", "id": 1, "text": "likes crime"}\n'
                                  '{"kind": "item", "id": 10, "text": "Heat"}\n')
put(files, "features", [7], "user\t1\t0.1 0.2\nuser\t2\t0 1\nuser\t3\t1 0\n"
                            "item\t10\t1 1\nitem\t11\t-1 0.5\nitem\t12\t0 0\nitem\t13\t2 2\n")
put(files, "recs", [8], "user_id,item_id,rank,score\n1,12,1,0.9\n1,13,2,0.5\n2,10,1,0.1\n")
put(files, "item-texts", [9], "id,text\n10,\"a film\"\n99,unknown\n")
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as z:
    z.writestr("ml-100k/u.data", "1\t10\t5\t881250949\n")
    z.writestr("ml-100k/README", "x" * 200, compress_type=zipfile.ZIP_DEFLATED)
put(files, "zip", [10], buf.getvalue())


def chat(content):
    return json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]})


put(llm, "list", [0, 0], chat(json.dumps({"ranking": ["C3", "C1", "C2", "C1", "C9"]})))
put(llm, "pairwise", [1, 0], chat(json.dumps({"response": "C2"})))
put(llm, "batch", [2, 0], chat(json.dumps({"ranking": ["C2", "C1", "C5", "C4", "C3"]})))
put(llm, "score", [3, 0], chat(json.dumps({"scores": {"C1": 90, "C2": "70", "C3": -5, "C7": 101}})))
put(llm, "justification", [4, 0], chat(json.dumps({"justification": "Because you liked Heat (1995)."})))
put(llm, "embeddings", [0, 0], json.dumps({"data": [{"index": 1, "embedding": [0, 1, 2, 3]},
                                                   {"index": 0, "embedding": [1, 1, 1, 1]}]}))
put(llm, "server-error", [0, 7], '{"error": {"message": "overloaded"}}')
put(llm, "profile-integrated", [0, 0], chat(json.dumps({"user_profile": "Enjoys crime films such as Heat (1995)."})))
put(llm, "profile-structured", [16, 0], chat("## Overview\nLikes crime.\n## Attributes\n- tense\n## Dislikes\nmusicals"))

if len(sys.argv) > 3:  # gatrec serve's parsers: the first byte picks one (test/fuzz/fuzz_serve.c)
    serve = sys.argv[3]
    put(serve, "new-user", [0], json.dumps({"rated": [["a", 5], ["b,\"c\"", 1]], "text": "likes a", "k": 3,
                                            "exclude": ["d", 7], "only": ["a", "e"]}))
    put(serve, "explain", [1], json.dumps({"user": "u1", "item": "d"}))
    put(serve, "query-ids", [2], "a,b,d,,e,nope")
    put(serve, "k", [3], "10")
