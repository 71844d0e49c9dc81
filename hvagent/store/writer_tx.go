package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
)

// wtx is a transaction of the writer pool's one connection, begun and
// ended by statements on a *sql.Conn instead of through *sql.Tx.
// database/sql gives a *sql.Tx a cancellable context, and then starts a
// goroutine for every query run in it (to close its rows should that
// context end), a goroutine the committer's transactions never need: they
// begin on a context without cancellation and run to their end. On a
// *sql.Conn, a query on such a context starts none.
type wtx struct {
	conn *sql.Conn
}

// beginWrite takes the writer's connection and begins an immediate
// transaction on it (it takes the write lock at once, as the writer's DSN
// asks of database/sql's transactions).
func beginWrite(pool *sql.DB) (*wtx, error) {
	conn, err := pool.Conn(context.Background())
	if err != nil {
		return nil, err
	}
	w := &wtx{conn: conn}
	if err := w.exec(`BEGIN IMMEDIATE`); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return w, nil
}

// exec runs a statement without arguments in the transaction.
func (w *wtx) exec(query string) error {
	_, err := w.conn.ExecContext(context.Background(), query)
	return err
}

// commit commits the transaction and gives the connection back. A COMMIT
// that fails may leave the transaction open (SQLite ends it on some errors
// and not on others): it is then rolled back, so the connection goes back
// to the pool outside any transaction.
func (w *wtx) commit() error {
	err := w.exec(`COMMIT`)
	if err != nil {
		_ = w.exec(`ROLLBACK`) // "no transaction is active" when SQLite ended it
	}
	w.release(err != nil)
	return err
}

// rollback rolls the transaction back and gives the connection back.
func (w *wtx) rollback() {
	w.release(w.exec(`ROLLBACK`) != nil)
}

// release gives the connection back to the pool. After a failed COMMIT or
// ROLLBACK it first checks that the connection is outside any
// transaction: one left inside would fail every later BEGIN, so it is
// dropped instead (the pool opens a new one).
func (w *wtx) release(failed bool) {
	if failed {
		_ = w.conn.Raw(func(dc any) error {
			if c, ok := dc.(interface{ AutoCommit() bool }); ok && !c.AutoCommit() {
				return driver.ErrBadConn
			}
			return nil
		})
	}
	_ = w.conn.Close()
}
