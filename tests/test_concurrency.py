"""What runs in another thread or process (sqlalint.concurrency), and the rules built on it:
SLA102, SLA202, SLA203, SLA205 on code shaped like real applications."""
import textwrap

import libcst as cst
import pytest

from sqlalint.concurrency import PROCESS, THREAD, spawns
from sqlalint.config import Settings
from sqlalint.context import Context
from sqlalint.engine import check_source, fix_source, parses
from sqlalint.infer import Inference
from sqlalint.model import Model


def context(source):
    source = textwrap.dedent(source)
    tree = cst.parse_module(source)
    model = Model(tree, "app.jobs")
    return Context(source, tree, model, Inference(model), Settings(), "app/jobs.py")


def found(source):
    """(line of the spawning call, kind, line of the origin, names of the resolved targets,
    code of what is passed)."""
    ctx = context(source)
    return [(ctx.line(s.call), s.kind, ctx.line(s.origin),
             [t.name.value if isinstance(t, cst.FunctionDef) else "lambda" for t in s.targets],
             [ctx.code(p) for p in s.passed], [i.name.value for i in s.initializers])
            for s in spawns(ctx)]


def findings(source, codes):
    return [(d.line, d.column, d.code) for d in
            check_source(textwrap.dedent(source), "app/jobs.py", Settings(select=tuple(codes)))]


def test_threads_every_api():
    assert found("""\
        import asyncio, functools, threading
        import concurrent.futures as cf
        from multiprocessing.dummy import Pool as DummyPool
        from multiprocessing.pool import ThreadPool

        executor = cf.ThreadPoolExecutor(4)

        def work(a, b=None):
            pass

        def done(future):
            pass

        async def main(x):
            threading.Thread(target=work, args=(x,), kwargs={"b": x})
            threading.Timer(1.0, work, args=[x])
            executor.submit(work, x, b=x)
            future = executor.submit(functools.partial(work, x))
            future.add_done_callback(done)
            with cf.ThreadPoolExecutor() as pool:
                pool.map(lambda y: y, [x])
            local = ThreadPool(2)
            local.apply_async(work, (x,), {"b": x})
            DummyPool(2).starmap(work, [(x, x)])
            await asyncio.get_running_loop().run_in_executor(None, work, x)
            await asyncio.to_thread(work, x)
        """) == [
        (15, THREAD, 15, ["work"], ["x", "x"], []),
        (16, THREAD, 16, ["work"], ["x"], []),
        (17, THREAD, 6, ["work"], ["x", "x"], []),
        (18, THREAD, 6, ["work"], ["x"], []),
        (19, THREAD, 6, ["done"], [], []),
        (21, THREAD, 20, ["lambda"], [], []),
        (23, THREAD, 22, ["work"], ["x", "x"], []),
        (24, THREAD, 24, ["work"], [], []),
        (25, THREAD, 25, ["work"], ["x"], []),
        (26, THREAD, 26, ["work"], ["x"], []),
    ]


def test_processes_every_api():
    assert found("""\
        import multiprocessing as mp
        import os
        from concurrent.futures import ProcessPoolExecutor

        def init():
            pass

        def work(x):
            pass

        def main(xs):
            with mp.Pool(2, init) as pool:
                pool.map(work, xs)
            mp.Process(target=work, args=(1,))
            ctx = mp.get_context("fork")
            ctx.Pool(initializer=init).imap(work, xs)
            ProcessPoolExecutor(initializer=init).submit(work, 1)
            os.fork()
        """) == [
        (13, PROCESS, 12, ["work"], [], ["init"]),
        (14, PROCESS, 14, ["work"], ["1"], []),
        (16, PROCESS, 16, ["work"], [], ["init"]),
        (17, PROCESS, 17, ["work"], ["1"], ["init"]),
        (18, PROCESS, 18, [], [], []),
    ]


def test_spawn_start_method_forks_nothing():
    assert found("""\
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        def work(x):
            pass

        def main(xs):
            multiprocessing.get_context("spawn").Pool(2).map(work, xs)
            ProcessPoolExecutor(mp_context=multiprocessing.get_context("forkserver")).map(work, xs)
        """) == []
    assert found("""\
        import multiprocessing

        multiprocessing.set_start_method("spawn")

        def main():
            multiprocessing.Process(target=print).start()
        """) == []


def test_lookalikes_are_not_spawns():
    assert found("""\
        import threading
        from myapp.jobs import work
        from myapp.pools import Pool

        class Form:
            def submit(self, f):
                pass

        def main(form, executor, x):
            form.submit(work)
            executor.submit(work, x)  # an executor of unknown origin
            Pool(2).map(work, [x])
            threading.Thread()
        """) == []


def test_unresolved_target_keeps_the_spawn_but_no_target():
    assert found("""\
        import threading
        from myapp.jobs import work

        def main(x):
            threading.Thread(target=work, args=(x,))
        """) == [(5, THREAD, 5, [], ["x"], [])]


def test_self_method_and_self_executor():
    assert found("""\
        from concurrent.futures import ThreadPoolExecutor

        class Worker:
            def __init__(self):
                self.pool = ThreadPoolExecutor()

            def run(self, x):
                pass

            def start(self, x):
                self.pool.submit(self.run, x)
        """) == [(11, THREAD, 5, ["run"], ["x"], [])]


# -- rules on application-shaped code -------------------------------------------------------

def test_sla203_imported_session_target_and_registry_are_silent():
    assert findings("""\
        import threading
        from concurrent.futures import ThreadPoolExecutor
        from sqlalchemy.orm import scoped_session, sessionmaker
        from myapp.tasks import run_task

        Registry = scoped_session(sessionmaker())

        def work(session_factory, x):
            with session_factory() as session:
                session.get(dict, x)

        def main(x):
            threading.Thread(target=run_task, args=(x,)).start()
            with ThreadPoolExecutor() as pool:
                pool.submit(work, sessionmaker(), x)
                pool.submit(work, Registry, x)
        """, ["SLA203"]) == []


def test_sla203_method_target_with_captured_session():
    assert findings("""\
        import threading
        from sqlalchemy.orm import Session

        def start(engine):
            session = Session(engine)

            def poll():
                while True:
                    session.execute("SELECT 1")

            threading.Thread(target=poll, daemon=True).start()
        """, ["SLA203"]) == [(9, 13, "SLA203")]


def test_sla202_and_sla203_fixes_together_are_stable():
    source = textwrap.dedent("""\
        import threading
        from sqlalchemy.orm import scoped_session, sessionmaker

        Session = scoped_session(sessionmaker())
        session = Session()  # shared


        def test():
            print(session.query(int).all())


        if __name__ == "__main__":
            threading.Thread(target=test).start()
        """)
    settings = Settings(select=("SLA202", "SLA203"))
    result = fix_source(source, "app/jobs.py", settings, unsafe=True)
    assert result.source == textwrap.dedent("""\
        import threading
        from sqlalchemy.orm import scoped_session, sessionmaker

        Session = scoped_session(sessionmaker())
        # shared


        def test():
            print(Session.query(int).all())


        if __name__ == "__main__":
            threading.Thread(target=test).start()
        """)
    assert parses(result.source) and not result.result.diagnostics
    assert fix_source(result.source, "app/jobs.py", settings, unsafe=True).source == result.source


def test_sla203_with_wrap_keeps_comments_and_crlf():
    source = ("import threading\r\nfrom sqlalchemy.orm import sessionmaker\r\n\r\n"
              "SessionLocal = sessionmaker()\r\nshared = SessionLocal()\r\n\r\n"
              "def job():\r\n    # first\r\n    shared.commit()  # done\r\n\r\n"
              "threading.Thread(target=job).start()\r\n")
    result = fix_source(source, "app/jobs.py", Settings(select=("SLA203",)), unsafe=True)
    assert result.source == (
        "import threading\r\nfrom sqlalchemy.orm import sessionmaker\r\n\r\n"
        "SessionLocal = sessionmaker()\r\nshared = SessionLocal()\r\n\r\n"
        "def job():\r\n    with SessionLocal() as shared:\r\n        # first\r\n        shared.commit()  # done\r\n\r\n"
        "threading.Thread(target=job).start()\r\n")


@pytest.mark.parametrize("code", ["SLA202", "SLA203"])
def test_no_fix_when_the_registry_name_is_shadowed(code):
    source = textwrap.dedent("""\
        import threading
        from sqlalchemy.orm import scoped_session, sessionmaker

        Session = scoped_session(sessionmaker())
        session = Session()

        def job(Session=None):
            session.commit()

        threading.Thread(target=job).start()
        """)
    result = fix_source(source, "app/jobs.py", Settings(select=(code,)), unsafe=True)
    assert result.source == source and result.result.diagnostics


def test_sla205_removed_in_another_module_through_the_index(tmp_path):
    from sqlalint.index import ProjectIndex

    class Index(ProjectIndex):
        def registry_removed(self, qualified):
            return qualified == "app.db.Session"

    source = textwrap.dedent("""\
        from sqlalchemy.orm import scoped_session, sessionmaker

        Session = scoped_session(sessionmaker())

        def get(x):
            return Session.get(dict, x)
        """)
    settings = Settings(select=("SLA205",))
    assert [d.line for d in check_source(source, "app/db.py", settings, Index(), "app.db")] == []
    assert [d.line for d in check_source(source, "app/other.py", settings, Index(), "app.other")] == [3]


def test_sla102_child_through_helper_and_factory_bound_positionally():
    assert findings("""\
        import multiprocessing
        from sqlalchemy import create_engine
        from sqlalchemy.orm import scoped_session, sessionmaker

        engine = create_engine("postgresql://db/app")
        Session = scoped_session(sessionmaker(engine))

        def helper(x):
            return Session.get(dict, x)

        def task(x):
            return helper(x)

        def main(xs):
            pool = multiprocessing.Pool(2)
            pool.map(task, xs)
        """, ["SLA102"]) == [(15, 12, "SLA102")]


def test_sla102_at_fork_hook_is_silent():
    assert findings("""\
        import multiprocessing
        import os
        from sqlalchemy import create_engine

        engine = create_engine("postgresql://db/app")
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))

        def task(x):
            with engine.connect():
                pass

        def main(xs):
            multiprocessing.Pool(2).map(task, xs)
        """, ["SLA102"]) == []


def test_sla102_session_opened_in_the_parent_counts_and_child_dispose_is_silent():
    source = """\
        import os
        from multiprocessing import Pool
        from sqlalchemy import create_engine
        from sqlalchemy.orm import sessionmaker

        engine = create_engine("postgresql://db/app")
        shared = sessionmaker(bind=engine)()

        def job(n):
            return shared.get(dict, n)

        def spawn():
            with Pool(2) as pool:
                pool.map(job, [1])

        def daemonize():
            if os.fork():
                return
            engine.dispose()
            job(1)
        """
    assert findings(source, ["SLA102"]) == [(13, 10, "SLA102")]


def test_sla202_no_fix_for_an_exported_session():
    source = textwrap.dedent("""\
        from sqlalchemy.orm import scoped_session, sessionmaker

        __all__ = ["Session", "session"]
        Session = scoped_session(sessionmaker())
        session = Session()

        def add(user):
            session.add(user)
        """)
    result = fix_source(source, "app/db.py", Settings(select=("SLA202",)), unsafe=True)
    assert result.source == source and [d.line for d in result.result.diagnostics] == [5]
