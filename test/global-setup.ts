// Runs once, in mocha's main process, before any test file (also before the parallel workers start):
// as root, the local planes run PostgreSQL as the OS user "postgres", which is created here once
// rather than by two workers racing to `useradd` it.
import { ensurePostgresOsUser } from "../local/postgres";

export async function mochaGlobalSetup(): Promise<void> {
    await ensurePostgresOsUser();
}
